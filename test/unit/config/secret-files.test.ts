import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, describeKeys, loadConfig } from '../../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'sf-secret-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string): string {
  const f = join(dir, name);
  writeFileSync(f, content, { mode: 0o600 });
  return f;
}

function problemsOf(env: Record<string, string>): Array<{ key: string; problem: string }> {
  try {
    loadConfig(env, { envFile: null });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('NAME_FILE variants of secret keys', () => {
  it('every secret key has one: the file content (one trailing newline dropped) becomes the value and is redacted', () => {
    const secrets = describeKeys().filter((k) => k.secret);
    expect(secrets.length).toBeGreaterThan(4);
    const env: Record<string, string> = {};
    // Keys whose value has a shape (URLs) get a valid one; the rest any text.
    const shaped: Record<string, string> = {
      NOTIFY_WEBHOOK_URLS: 'https://hooks.example/value-of-NOTIFY_WEBHOOK_URLS',
      NTFY_URL: 'https://ntfy.example/value-of-NTFY_URL',
      SMTP_URL: 'smtp://mail.example:25/value-of-SMTP_URL',
    };
    const sampleOf = (name: string) => shaped[name] ?? `value-of-${name}`;
    for (const k of secrets) env[`${k.name}_FILE`] = secretFile(k.name, `${sampleOf(k.name)}\n`);
    const c = loadConfig(env, { envFile: null }) as unknown as Record<string, unknown> & {
      secrets: string[];
    };
    for (const k of secrets) {
      expect(c[k.name]).toBe(sampleOf(k.name));
      // SMTP_URL redacts only the password inside it (none here).
      if (k.name !== 'SMTP_URL') expect(c.secrets).toContain(sampleOf(k.name));
    }
  });

  it('keeps inner whitespace and only the last newline', () => {
    const f = secretFile('multi', 'a b\nc\r\n');
    expect(loadConfig({ DISCORD_TOKEN_FILE: f }, { envFile: null }).DISCORD_TOKEN).toBe('a b\nc');
  });

  it('reads the file once, at load: a later change does not alter the config', () => {
    const f = secretFile('once', 'first');
    const c = loadConfig({ DISCORD_TOKEN_FILE: f }, { envFile: null });
    writeFileSync(f, 'second');
    expect(c.DISCORD_TOKEN).toBe('first');
  });

  it('is refused together with the plain key, for a missing or an empty file, all reported at once', () => {
    const problems = problemsOf({
      DISCORD_TOKEN: 'x',
      DISCORD_TOKEN_FILE: secretFile('both', 'y'),
      SLACK_BOT_TOKEN_FILE: join(dir, 'does-not-exist'),
      WEB_TOKEN_FILE: secretFile('empty', '\n'),
    });
    expect(problems.map((p) => p.key).sort()).toEqual([
      'DISCORD_TOKEN_FILE',
      'SLACK_BOT_TOKEN_FILE',
      'WEB_TOKEN_FILE',
    ]);
    expect(problems.find((p) => p.key === 'DISCORD_TOKEN_FILE')?.problem).toMatch(/either DISCORD_TOKEN or/);
    expect(problems.find((p) => p.key === 'SLACK_BOT_TOKEN_FILE')?.problem).toMatch(/cannot read .*ENOENT/);
    expect(problems.find((p) => p.key === 'WEB_TOKEN_FILE')?.problem).toMatch(/is empty/);
  });

  it('is not offered for keys that are not secret', () => {
    const f = secretFile('plain', '/elsewhere');
    expect(loadConfig({ DATA_DIR_FILE: f }, { envFile: null }).DATA_DIR).toBe('./data');
  });
});
