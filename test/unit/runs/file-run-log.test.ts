import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSiteFlowError } from '../../../src/core/errors.js';
import { newOperationId } from '../../../src/core/operation-id.js';
import { FileRunLog } from '../../../src/runs/file-run-log.js';

describe('FileRunLog', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'siteflow-runlog-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const clock = { now: () => Date.UTC(2026, 2, 9, 12, 0, 0) };

  it('writes lines under <yyyy-mm>/<opId>.log and reads them back byte for byte', async () => {
    const log = new FileRunLog(dir, clock);
    const id = newOperationId(clock.now());
    const w = log.open(id);
    expect(w.path).toBe(`2026-03/${id}.log`);
    const lines = [
      'plain ascii',
      '',
      'tabs\tand  spaces  ',
      'unicode: é ü ✓ 日本語 🚀',
      '\u001b[32mansi green\u001b[0m',
      'carriage\rreturn inside',
      'x'.repeat(200_000),
      ...Array.from({ length: 5000 }, (_, i) => `line ${i}`),
    ];
    for (const l of lines) w.write(l);
    await w.close();
    const expected = lines.map((l) => `${l}\n`).join('');
    expect(await log.read(w.path)).toBe(expected);
    expect(readFileSync(join(dir, '2026-03', `${id}.log`)).equals(Buffer.from(expected, 'utf8'))).toBe(true);
    expect(readdirSync(dir)).toEqual(['2026-03']);
    // Logs may hold private output: never world-readable.
    expect(statSync(join(dir, w.path)).mode & 0o007).toBe(0);
    // Writes after close are ignored, not an error.
    w.write('after close');
    await w.close();
    expect(await log.read(w.path)).toBe(expected);
  });

  it('keeps the order when non-ASCII lines (masked secrets) are written apart from the ASCII batches', async () => {
    const log = new FileRunLog(dir, clock);
    const w = log.open(newOperationId(clock.now()));
    const lines = Array.from({ length: 30_000 }, (_, i) =>
      i % 97 === 0 ? `line ${i} password=•••• é` : i % 1001 === 0 ? `line ${i} 日本` : `line ${i} GET /x 200`,
    );
    for (const [i, l] of lines.entries()) {
      w.write(l);
      // Some batches end on a timer, some on size: both paths.
      if (i % 5000 === 0) await new Promise((r) => setImmediate(r));
    }
    await w.close();
    expect(await log.read(w.path)).toBe(lines.map((l) => `${l}\n`).join(''));
  });

  it('refuses ids and paths that could leave its directory', async () => {
    const log = new FileRunLog(dir, clock);
    for (const bad of ['../x', 'op_../../etc', `op_${'a'.repeat(25)}/`, 'op_ABCDEFGHJKMNPQRSTVWXYZ012', '']) {
      expect(() => log.open(bad)).toThrow(expect.objectContaining({ code: 'RUN_LOG_BAD_ID' }));
    }
    for (const bad of ['../../etc/passwd', '/etc/passwd', `2026-03/../${newOperationId()}.log`, 'x.log']) {
      await expect(log.read(bad)).rejects.toSatisfy((e) => isSiteFlowError(e, 'RUN_LOG_BAD_PATH'));
      await expect(log.remove(bad)).rejects.toSatisfy((e) => isSiteFlowError(e, 'RUN_LOG_BAD_PATH'));
    }
    await expect(log.read(`2026-03/${newOperationId()}.log`)).rejects.toSatisfy((e) =>
      isSiteFlowError(e, 'RUN_LOG_NOT_FOUND'),
    );
  });

  it('removes a log; removing a missing one is fine', async () => {
    const log = new FileRunLog(dir, clock);
    const w = log.open(newOperationId());
    w.write('x');
    await w.close();
    await log.remove(w.path);
    await log.remove(w.path);
    expect(readdirSync(join(dir, '2026-03'))).toEqual([]);
  });

  it('reports a write failure on close instead of crashing', async () => {
    const log = new FileRunLog(dir, clock);
    const id = newOperationId();
    // Make the log path a directory so opening it for append fails.
    const w0 = log.open(id);
    await w0.close();
    rmSync(join(dir, w0.path));
    mkdirSync(join(dir, w0.path));
    const w = log.open(id);
    w.write('lost');
    await expect(w.close()).rejects.toSatisfy((e) => isSiteFlowError(e, 'RUN_LOG_WRITE'));
  });

  it('readTail reads only the end of a long log, from a whole line, characters intact', async () => {
    const log = new FileRunLog(dir, clock);
    const id = newOperationId(clock.now());
    const w = log.open(id);
    for (let i = 0; i < 100; i++) w.write(`${i} ${'日本'.repeat(10)}`);
    await w.close();
    const whole = await log.read(w.path);
    // Short enough: all of it, not cut.
    expect(await log.readTail(w.path, Buffer.byteLength(whole))).toEqual({ text: whole, cut: false });
    // Cut inside a line (and a three-byte character): the partial first line is dropped.
    const tail = await log.readTail(w.path, 200);
    expect(tail.cut).toBe(true);
    expect(Buffer.byteLength(tail.text)).toBeLessThanOrEqual(200);
    expect(whole.endsWith(tail.text)).toBe(true);
    expect(tail.text).not.toContain('\uFFFD');
    expect(tail.text.split('\n')[0]).toMatch(/^\d+ (日本){10}$/);
    // Cut exactly at a line start: that line is kept.
    const lastTwo = whole.split('\n').slice(-3).join('\n');
    expect((await log.readTail(w.path, Buffer.byteLength(lastTwo))).text).toBe(lastTwo);
  });
});

describe('FileRunLog limits and failures', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps at most maxBytes per run, then one marker line, and says the log is truncated', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siteflow-runlog-cap-'));
    const log = new FileRunLog(dir, { now: () => Date.UTC(2026, 2, 1) }, { maxBytes: 1000 });
    const w = log.open(newOperationId());
    for (let i = 0; i < 500; i++) w.write(`line ${i}`);
    await w.close();
    const text = await log.read(w.path);
    expect(Buffer.byteLength(text)).toBeLessThan(1100);
    expect(text).toMatch(/# … output beyond 0 MB dropped \(RUN_LOG_MAX_MB\)\n$/);
    expect(w.truncated).toBe(true);
  });

  it('a log that cannot even be created does not throw at open: it is truncated and reports no space', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siteflow-runlog-fail-'));
    // A file where the month folder should be: mkdir fails.
    writeFileSync(join(dir, '2026-03'), 'not a folder');
    const failed: string[] = [];
    const log = new FileRunLog(
      dir,
      { now: () => Date.UTC(2026, 2, 1) },
      { onNoSpace: (p) => failed.push(p) },
    );
    const w = log.open(newOperationId());
    expect(() => w.write('lost')).not.toThrow();
    expect(w.truncated).toBe(true);
    await expect(w.close()).rejects.toSatisfy((e) => isSiteFlowError(e, 'RUN_LOG_WRITE'));
    // Not a lack of space (ENOTDIR): the disk watch is not told.
    expect(failed).toEqual([]);
  });
});
