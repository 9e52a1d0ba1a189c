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
/** ASCII lines are joined into pieces of about this many characters (all written in one writev). */
const PIECE = 8 * 1024;

/** Options of {@link FileRunLog}. */
export interface FileRunLogOptions {
  /** Largest log kept per run (RUN_LOG_MAX_MB); the rest is dropped after a marker line. */
  maxBytes?: number;
  /** Called when a log could not be written for lack of space (for the disk watch). */
  onNoSpace?: (path: string) => void;
}

/** Run logs as files under one directory (DATA_DIR/logs). */
export class FileRunLog implements RunLog {
  constructor(
    private readonly dir: string,
    private readonly clock: Clock = { now: Date.now },
    private readonly opts: FileRunLogOptions = {},
  ) {}

  /**
   * Starts the log of a run. Never fails for I/O: a log that cannot be created or written
   * (a full disk) is marked truncated and the run goes on; only a bad id throws.
   */
  open(opId: string): RunLogWriter {
    if (!isOperationId(opId)) throw new SiteFlowError('RUN_LOG_BAD_ID', 'not a valid operation id');
    const d = new Date(this.clock.now());
    const month = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    const path = `${month}/${opId}.log`;
    let failed: Error | null = null;
    try {
      mkdirSync(join(this.dir, month), { recursive: true, mode: 0o700 });
    } catch (e) {
      failed = e as Error;
    }
    return new FileRunLogWriter(path, join(this.dir, path), {
      maxBytes: this.opts.maxBytes ?? Number.POSITIVE_INFINITY,
      failed,
      onError: (e) => {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') this.opts.onNoSpace?.(path);
      },
    });
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
  private readonly stream: WriteStream | null;
  /** ASCII lines not yet written (joined into one write). */
  private chunks: string[] = [];
  /**
   * Joined pieces ready to write, in order. A line with a non-ASCII character (a masked
   * secret's `••••`, for one) is its own piece: joined in, it would make the whole batch a
   * two-byte string, which V8 encodes to UTF-8 some 2.5x slower than an ASCII one
   * (bench/masking.bench.ts).
   */
  private pieces: string[] = [];
  private chars = 0;
  private chunkChars = 0;
  private bytes = 0;
  private cut = false;
  private scheduled = false;
  private error: Error | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    readonly path: string,
    abs: string,
    private readonly o: { maxBytes: number; failed: Error | null; onError: (e: Error) => void },
  ) {
    if (o.failed) {
      this.error = o.failed;
      this.stream = null;
      o.onError(o.failed);
      return;
    }
    this.stream = createWriteStream(abs, { flags: 'a', encoding: 'utf8', mode: 0o600 });
    // Without a listener an I/O error would crash the process; it is reported by close().
    this.stream.on('error', (e) => {
      if (!this.error) o.onError(e);
      this.error ??= e;
    });
  }

  /** True when the file lacks part of the output: it could not be written, or hit the size cap. */
  get truncated(): boolean {
    return this.error !== null || this.cut;
  }

  write(line: string): void {
    if (this.closing || this.error || this.cut) return;
    const size = Buffer.byteLength(line, 'utf8') + 1;
    if (this.bytes + size > this.o.maxBytes) {
      this.cut = true;
      const mb = Math.round(this.o.maxBytes / (1024 * 1024));
      this.chunks.push(`# … output beyond ${mb} MB dropped (RUN_LOG_MAX_MB)\n`);
      this.flush();
      return;
    }
    this.bytes += size;
    if (size !== line.length + 1) {
      this.endPiece();
      this.pieces.push(`${line}\n`);
    } else {
      this.chunks.push(line, '\n');
      this.chunkChars += size;
      // Joining a few KB at a time is cheaper than one string of the whole batch.
      if (this.chunkChars >= PIECE) this.endPiece();
    }
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
      const stream = this.stream;
      // A stream that failed to open is already closed and will not emit 'close' again.
      if (!stream || stream.closed) return done();
      stream.once('close', done);
      stream.end();
    });
    return this.closing;
  }

  /** Joins the pending ASCII lines into one piece. */
  private endPiece(): void {
    if (this.chunks.length) this.pieces.push(this.chunks.join(''));
    this.chunks = [];
    this.chunkChars = 0;
  }

  private flush(): void {
    this.scheduled = false;
    this.endPiece();
    this.chars = 0;
    const pieces = this.pieces;
    this.pieces = [];
    if (pieces.length === 0 || this.error || !this.stream || this.stream.destroyed) return;
    if (pieces.length === 1) {
      this.stream.write(pieces[0]!);
      return;
    }
    // One writev for all of them.
    this.stream.cork();
    for (const p of pieces) this.stream.write(p);
    this.stream.uncork();
  }
}
