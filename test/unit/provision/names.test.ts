import { describe, expect, it } from 'vitest';
import { checkDomain, checkSiteName, isPinned } from '../../../src/provision/names.js';

describe('site names', () => {
  it('accepts DNS labels', () => {
    for (const n of ['blog', 'a', 'my-site-2', 'x'.repeat(63)])
      expect(checkSiteName(n)).toEqual({ ok: true, value: n });
  });
  it('refuses paths, capitals, dots, underscores, edge hyphens and 64+ characters with a reason', () => {
    const bad = ['../x', 'UPPER', 'a.b', 'a_b', '-a', 'a-', '', 'a b', 'x'.repeat(64), '.archive'];
    for (const n of bad) {
      const r = checkSiteName(n);
      expect(r.ok, n).toBe(false);
      if (!r.ok) expect(r.error.length).toBeGreaterThan(10);
    }
    const long = checkSiteName('x'.repeat(64));
    expect(!long.ok && long.error).toMatch(/at most 63/);
  });
  it('refuses reserved names', () => {
    for (const n of ['siteflow', 'caddy', 'admin', 'www', 'localhost']) {
      const r = checkSiteName(n);
      expect(!r.ok && r.error).toMatch(/reserved/);
    }
  });
});

describe('domains', () => {
  it('accepts hostnames', () => {
    for (const d of ['example.com', 'blog.example.co.uk', 'x-1.test', 'localhost'])
      expect(checkDomain(d).ok).toBe(true);
  });
  it('refuses anything that could add Caddy directives or YAML', () => {
    const bad = [
      'a.com\nimport /etc/passwd',
      'a.com {',
      'a.com}',
      'a.com import x',
      'a.com\timport',
      'http://a.com',
      'a.com:8080',
      '*.a.com',
      'A.com',
      'a..com',
      '-a.com',
      'a.com#x',
      '"a.com"',
      `${'a'.repeat(64)}.com`,
      '',
    ];
    for (const d of bad) expect(checkDomain(d).ok, JSON.stringify(d)).toBe(false);
  });
});

describe('image pinning', () => {
  it('needs a tag other than latest, or a digest', () => {
    expect(isPinned('nginx:1.27-alpine')).toBe(true);
    expect(isPinned('127.0.0.1:5000/x/y:1')).toBe(true);
    expect(isPinned(`nginx@sha256:${'a'.repeat(64)}`)).toBe(true);
    expect(isPinned('nginx')).toBe(false);
    expect(isPinned('nginx:latest')).toBe(false);
    expect(isPinned('127.0.0.1:5000/nginx')).toBe(false);
  });
});
