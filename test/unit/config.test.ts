import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeKeys, loadConfig } from '../../src/config.js';
import { renderCommandsTable, renderConfigTable, renderEnvExample } from '../../src/tools/env-example.js';

describe('config', () => {
  it('applies defaults when nothing is set', () => {
    const c = loadConfig({}, { envFile: null });
    expect(c.DATA_DIR).toBe('./data');
    expect(c.AUDIT_RETENTION_DAYS).toBe(90);
    expect(c.ADMINS).toEqual(['console:*']);
    expect(c.OPERATORS).toEqual([]);
  });

  it('reports every bad key at once, by name', () => {
    let error: unknown;
    try {
      loadConfig(
        { LOG_LEVEL: 'loud', AUDIT_RETENTION_DAYS: '-3', ADMINS: 'everyone', CONSOLE: 'maybe' },
        { envFile: null },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.key).sort();
    expect(problems).toEqual(['ADMINS', 'AUDIT_RETENTION_DAYS', 'CONSOLE', 'LOG_LEVEL']);
    expect((error as ConfigError).message).toContain('LOG_LEVEL: expected one of');
  });

  it('reads WEB_TRUST_PROXY as express trust proxy: false by default, a hop count, or addresses', () => {
    expect(loadConfig({}, { envFile: null }).WEB_TRUST_PROXY).toBe(false);
    expect(loadConfig({ WEB_TRUST_PROXY: '1' }, { envFile: null }).WEB_TRUST_PROXY).toBe(1);
    expect(loadConfig({ WEB_TRUST_PROXY: 'true' }, { envFile: null }).WEB_TRUST_PROXY).toBe(true);
    expect(loadConfig({ WEB_TRUST_PROXY: 'loopback, 10.0.0.0/8' }, { envFile: null }).WEB_TRUST_PROXY).toBe(
      'loopback, 10.0.0.0/8',
    );
    expect(() => loadConfig({ WEB_TRUST_PROXY: 'x;y' }, { envFile: null })).toThrowError(/WEB_TRUST_PROXY/);
  });

  it('WEB_HOST off loopback needs WEB_TOKEN (16+ characters) or WEB_ALLOW_ANONYMOUS=true', () => {
    const load = (env: Record<string, string>) => loadConfig(env, { envFile: null });
    expect(() => load({ WEB_HOST: '0.0.0.0' })).toThrow(/WEB_HOST: .*WEB_TOKEN.*WEB_ALLOW_ANONYMOUS/);
    expect(() => load({ WEB_TOKEN: 'short-token' })).toThrow(/WEB_TOKEN: expected at least 16/);
    expect(load({ WEB_HOST: '0.0.0.0', WEB_TOKEN: '0123456789abcdef' }).WEB_TOKEN).toHaveLength(16);
    expect(load({ WEB_HOST: '0.0.0.0', WEB_ALLOW_ANONYMOUS: 'true' }).WEB_ALLOW_ANONYMOUS).toBe(true);
    expect(load({ WEB_HOST: '::1' }).WEB_HOST).toBe('::1');
    expect(load({ WEB_HOST: 'localhost' }).WEB_SESSION_HOURS).toBe(12);
    expect(load({ WEB_TOKEN: '0123456789abcdef' }).secrets).toContain('0123456789abcdef');
  });

  it('notification channel keys: webhook list validated without quoting URLs; each URL and SMTP password redacted', () => {
    const c = loadConfig(
      {
        NOTIFY_WEBHOOK_URLS: 'ops=https://h.example/a?t=tok1, https://h.example/b',
        SMTP_URL: 'smtps://me:p%40ss@mail.example:465',
        NTFY_URL: 'https://ntfy.example/sub/my-topic',
      },
      { envFile: null },
    );
    expect(c.secrets).toEqual(
      expect.arrayContaining([
        'https://h.example/a?t=tok1',
        'https://h.example/b',
        'p@ss',
        'https://ntfy.example/sub/my-topic',
      ]),
    );
    let error: unknown;
    try {
      loadConfig(
        {
          NOTIFY_WEBHOOK_URLS: 'Bad Name=https://x.example/s3cr3t,ops=ftp://x.example/s3cr3t,ops=https://y',
          NTFY_URL: 'https://ntfy.example/',
          ALERT_EMAIL_TO: 'not-an-address',
          SMTP_URL: 'http://mail',
        },
        { envFile: null },
      );
    } catch (e) {
      error = e;
    }
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.key).sort()).toEqual([
      'ALERT_EMAIL_TO',
      'NOTIFY_WEBHOOK_URLS',
      'NTFY_URL',
      'SMTP_URL',
    ]);
    expect((error as ConfigError).message).not.toContain('s3cr3t');
  });

  it('treats ADMINS= (empty) as nobody, not as the default', () => {
    expect(loadConfig({ ADMINS: '' }, { envFile: null }).ADMINS).toEqual([]);
    expect(loadConfig({}, { envFile: null }).ADMINS).toEqual(['console:*']);
  });

  it('reads a .env file, and the real environment wins over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-cfg-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'DATA_DIR=/srv/siteflow\nLOG_LEVEL=debug\n');
    const c = loadConfig({ LOG_LEVEL: 'warn' }, { envFile: file });
    expect(c.DATA_DIR).toBe('/srv/siteflow');
    expect(c.LOG_LEVEL).toBe('warn');
  });

  it('keeps .env.example in sync with the schema', () => {
    const onDisk = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    expect(onDisk, 'run `npm run docs:env` to regenerate .env.example').toBe(renderEnvExample());
    for (const k of describeKeys()) expect(onDisk).toContain(`# ${k.name}=`);
  });

  it('documents every key in the README configuration table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(renderConfigTable());
  });

  it('documents every command in the README commands table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme, 'run `npm run docs:env` to regenerate the README tables').toContain(renderCommandsTable());
  });

  it('never puts a real-looking secret in .env.example', () => {
    for (const k of describeKeys().filter((k) => k.secret)) {
      expect(k.default ?? '').toBe('');
      expect(k.example ?? '').toMatch(/^(|<[^>]+>|changeme.*)$/);
    }
  });
});
