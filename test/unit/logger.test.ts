import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, redactSecrets, SafeLogDestination } from '../../src/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  const secret = 'xoxb-1234-test-secret-value';

  it('never writes a configured secret, wherever it appears', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'debug', secrets: [secret], destination });
    log.info({ headers: { authorization: `Bearer ${secret}` } }, 'request');
    log.error({ err: `auth failed for token ${secret}` }, `login with ${secret} failed`);
    log.child({ run: 'op_1' }).warn({ nested: { deep: [secret] } }, 'nested');
    log.info({ quoted: `say "${secret}"` }, 'quoted');
    await new Promise((r) => setImmediate(r));
    expect(lines.length).toBe(4);
    for (const l of lines) {
      expect(l).not.toContain(secret);
      expect(l).not.toContain('1234-test-secret');
    }
    expect(lines.join('')).toContain(REDACTED);
  });

  it('redacts well-known secret fields even when their value is not configured', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', secrets: [], destination });
    log.info({ password: 'hunter2-unknown', token: 'abc-unknown' }, 'x');
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).not.toContain('hunter2-unknown');
    expect(lines[0]).not.toContain('abc-unknown');
  });

  it('redacts JSON-escaped forms of a secret', () => {
    const s = 'pa"ss\\word';
    expect(redactSecrets(JSON.stringify({ v: s }), [s])).not.toContain('ss\\\\word');
  });
});

describe('SafeLogDestination', () => {
  // /dev/full fails every write with ENOSPC, like a full disk.
  it('falls back to the second descriptor when the log file cannot be written, and never throws', () => {
    const spare = mkdtempSync(join(tmpdir(), 'sf-log-'));
    const fallback = openSync(join(spare, 'stderr'), 'a');
    const d = new SafeLogDestination('/dev/full', fallback);
    const log = createLogger({ level: 'info', secrets: [], destination: d });
    for (let i = 0; i < 10; i++) log.info({ i }, 'line');
    expect(d.onStderr).toBe(true);
    expect(d.dropped).toBe(0);
    closeSync(fallback);
    const text = readFileSync(join(spare, 'stderr'), 'utf8');
    expect(text).toMatch(/log file cannot be written/);
    expect(text.match(/"msg":"line"/g)).toHaveLength(10);
    d.close();
    rmSync(spare, { recursive: true, force: true });
  });

  it('counts lines it could write nowhere', () => {
    const full = openSync('/dev/full', 'w');
    const d = new SafeLogDestination('/dev/full', full);
    const log = createLogger({ level: 'info', secrets: [], destination: d });
    for (let i = 0; i < 5; i++) log.info('line');
    expect(d.dropped).toBe(5);
    d.close();
    closeSync(full);
  });
});
