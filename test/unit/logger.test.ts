import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, redactSecrets } from '../../src/logger.js';

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
