/**
 * Run logs as files: `<dir>/<yyyy-mm>/<opId>.log`, one line per output line. The stored
 * path is relative to `dir` and is checked against that exact shape before any read or
 * delete, so neither an operation id nor a stored path can point outside `dir`.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { type FileHandle, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SiteFlowError } from '../core/errors.js';
import { isOperationId } from '../core/operation-id.js';
import type { Clock, RunLog, RunLogWriter } from '../core/ports.js';

const PATH_RE = /^(\d{4}-\d{2})\/(op_[0-9a-hjkmnp-tv-z]{26})\.log$/;
/** Lines are gathered and written in chunks of about this many characters. */
const CHUNK = 64 * 1024;

/** Run logs as files under one directory (DATA_DIR/logs). */
export class FileRunLog implements RunLog {
  constructor(
    private readonly dir: string,
    private readonly clock: Clock = { now: Date.now },
  ) {}

  open(opId: string): RunLogWriter {
    if (!isOperationId(opId)) throw new SiteFlowError('RUN_LOG_BAD_ID', 'not a valid operation id');
    const d = new Date(this.clock.now());
    const month = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    try {
      mkdirSync(join(this.dir, month), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new SiteFlowError(
        'RUN_LOG_OPEN',
        `cannot create the run log directory: ${(e as Error).message}`,
        {},
        {
          cause: e,
        },
      );
    }
    const path = `${month}/${opId}.log`;
    return new FileRunLogWriter(path, join(this.dir, path));
  }

  async read(path: string): Promise<string> {
    try {
      return await readFile(this.resolve(path), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new SiteFlowError('RUN_LOG_NOT_FOUND', `run log ${path} does not exist`, {}, { cause: e });
      throw e;
    }
  }

  async readTail(path: string, maxBytes: number): Promise<{ text: string; cut: boolean }> {
    let fh: FileHandle;
    try {
      fh = await open(this.resolve(path), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new SiteFlowError('RUN_LOG_NOT_FOUND', `run log ${path} does not exist`, {}, { cause: e });
      throw e;
    }
    try {
      const { size } = await fh.stat();
      const cut = size > maxBytes;
      // When cut, one byte more: the byte before the tail says whether it starts a line.
      const want = cut ? Math.max(0, Math.floor(maxBytes)) + 1 : size;
      const buf = Buffer.alloc(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, size - want + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const bytes = buf.subarray(0, got);
      if (!cut) return { text: bytes.toString('utf8'), cut: false };
      // Cut somewhere in a line (maybe inside a character): start after the first newline.
      const nl = bytes.indexOf(0x0a);
      return { text: nl < 0 ? '' : bytes.subarray(nl + 1).toString('utf8'), cut: true };
    } finally {
      await fh.close();
    }
  }

  async remove(path: string): Promise<void> {
    await rm(this.resolve(path), { force: true });
  }

  private resolve(path: string): string {
    const m = PATH_RE.exec(path);
    if (!m) throw new SiteFlowError('RUN_LOG_BAD_PATH', 'not a run log path');
    return join(this.dir, m[1]!, `${m[2]}.log`);
  }
}

/** Appends lines to one file; writes are batched and never block the caller. */
class FileRunLogWriter implements RunLogWriter {
  private readonly stream: WriteStream;
  private chunks: string[] = [];
  private chars = 0;
  private scheduled = false;
  private error: Error | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    readonly path: string,
    abs: string,
  ) {
    this.stream = createWriteStream(abs, { flags: 'a', encoding: 'utf8', mode: 0o600 });
    // Without a listener an I/O error would crash the process; it is reported by close().
    this.stream.on('error', (e) => {
      this.error ??= e;
    });
  }

  write(line: string): void {
    if (this.closing || this.error) return;
    this.chunks.push(line, '\n');
    this.chars += line.length + 1;
    if (this.chars >= CHUNK) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve, reject) => {
      this.flush();
      const done = () => {
        if (!this.error) return resolve();
        const e = this.error;
        reject(new SiteFlowError('RUN_LOG_WRITE', `run log ${this.path}: ${e.message}`, {}, { cause: e }));
      };
      // A stream that failed to open is already closed and will not emit 'close' again.
      if (this.stream.closed) return done();
      this.stream.once('close', done);
      this.stream.end();
    });
    return this.closing;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.chunks.length === 0 || this.error || this.stream.destroyed) return;
    this.stream.write(this.chunks.join(''));
    this.chunks = [];
    this.chars = 0;
  }
}
