import { describe, expect, it } from 'vitest';
import { envSecrets, MASK, SecretMasker } from '../../../src/core/secret-mask.js';
import { LogDemuxer } from '../../../src/docker/log-demuxer.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const h = Buffer.alloc(8);
  h.writeUInt8(stream, 0);
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

describe('SecretMasker', () => {
  it('masks every occurrence of every source, longest first, and forgets a replaced source', () => {
    const m = new SecretMasker();
    m.set('config', ['xoxb-123456', 'abc']);
    m.set('site:local/blog', ['hunter2hunter2', 'hunter2hunter2-root']);
    expect(m.size).toBe(3);
    expect(m.mask('t=xoxb-123456 p=hunter2hunter2-root q=hunter2hunter2 abc')).toBe(
      `t=${MASK} p=${MASK} q=${MASK} abc`,
    );
    m.set('site:local/blog', []);
    expect(m.mask('hunter2hunter2')).toBe('hunter2hunter2');
    expect(m.mask('no secrets here')).toBe('no secrets here');
  });

  it('matches values literally, regexp metacharacters included', () => {
    const m = new SecretMasker();
    m.set('site:x', ['p.ss*(w0|rd)$^[x]\\/']);
    expect(m.mask('pXss(w0|rd)$^[x]')).toBe('pXss(w0|rd)$^[x]');
    expect(m.mask('a p.ss*(w0|rd)$^[x]\\/ b')).toBe(`a ${MASK} b`);
  });

  it('masks each line of a multi-line secret (a private key)', () => {
    const m = new SecretMasker();
    m.set('config', ['-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----']);
    expect(m.mask('line MIIEvQIBADANBgkq here')).toBe(`line ${MASK} here`);
  });

  it('a value split across two Docker stream chunks is whole again before it is masked', () => {
    const secret = 's3cr3t-Pa55w0rd-value';
    const m = new SecretMasker();
    m.set('site:x', [secret]);
    const bytes = Buffer.concat([frame(1, `a ${secret.slice(0, 7)}`), frame(1, `${secret.slice(7)} b\n`)]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new LogDemuxer(false);
      const lines = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut)), ...d.end()];
      expect(lines.map((l) => m.mask(l.text))).toEqual([`a ${MASK} b`]);
    }
  });
});

describe('SecretMasker over split streams', () => {
  // Multi-byte UTF-8 (a cut can fall inside a character), regexp metacharacters, and one
  // secret inside another.
  const secrets = ['pässwörd-ünïcødé-42', 'a.b*c(d)|e', 'root-secret', 'xroot-secret-long'];
  const masker = new SecretMasker();
  masker.set('site:x', secrets);
  const masked = `<${MASK}> ok`;
  const line = (v: string) => `<${v}> ok\n`;

  it('masks each value wherever a multiplexed stream is cut into two chunks', () => {
    for (const v of secrets) {
      const bytes = Buffer.concat([frame(1, line(v).slice(0, 3)), frame(1, line(v).slice(3))]);
      for (let cut = 1; cut < bytes.length; cut++) {
        const d = new LogDemuxer(false);
        const lines = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut)), ...d.end()];
        expect(
          lines.map((l) => masker.mask(l.text)),
          `${v} cut at ${cut}`,
        ).toEqual([masked]);
      }
    }
  });

  it('masks each value wherever a TTY (raw) stream is cut into two chunks', () => {
    for (const v of secrets) {
      const bytes = Buffer.from(`before\n${line(v)}after\n`, 'utf8');
      for (let cut = 1; cut < bytes.length; cut++) {
        const d = new LogDemuxer(true);
        const lines = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut)), ...d.end()];
        expect(
          lines.map((l) => masker.mask(l.text)),
          `${v} cut at ${cut}`,
        ).toEqual(['before', masked, 'after']);
      }
    }
  });
});

describe('envSecrets', () => {
  it('takes keys matching PASS|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE with values of 6+ characters', () => {
    const text = [
      '# comment',
      'DB_PASSWORD=correct-horse',
      'export API_TOKEN="quoted token"',
      "private_thing='single q'",
      'SHORT_KEY=abc12',
      'DB_HOST=db.example',
      'AWS_CREDENTIALS=AKIA12345678 # trailing comment',
      'SECRET_EMPTY=',
    ].join('\n');
    expect(envSecrets(text)).toEqual(['correct-horse', 'quoted token', 'single q', 'AKIA12345678']);
  });
});
