/**
 * Splits Docker's multiplexed log stream into ordered stdout/stderr lines. Frames are an
 * 8-byte header (stream type 0/1/2, three zero bytes, uint32 BE length) and a payload, as in
 * docker-modem's demuxStream (https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Container/operation/ContainerAttach),
 * but unlike demuxStream this keeps the interleaving of the two streams. TTY containers send
 * raw bytes; like demuxStream, an invalid header switches to raw mode.
 */
import { StringDecoder } from 'node:string_decoder';
import type { LogLine } from '../core/engine.js';

type Stream = LogLine['stream'];

/** Incremental demultiplexer: `push` chunks, then `end` to flush unterminated lines. */
export class LogDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  private raw: boolean;
  private readonly partial: Record<Stream, string> = { stdout: '', stderr: '' };
  private readonly decoders: Record<Stream, StringDecoder> = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
  };

  /** `tty`: the container has a TTY, so the stream is raw stdout. */
  constructor(tty = false) {
    this.raw = tty;
  }

  /** Feeds a chunk; returns the lines it completed, in order. */
  push(chunk: Buffer): LogLine[] {
    const out: LogLine[] = [];
    if (this.raw) {
      this.text('stdout', chunk, out);
      return out;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const type = this.buf.readUInt8(0);
      if (type > 2) {
        this.raw = true;
        const rest = this.buf;
        this.buf = Buffer.alloc(0);
        this.text('stdout', rest, out);
        return out;
      }
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      const payload = this.buf.subarray(8, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      this.text(type === 2 ? 'stderr' : 'stdout', payload, out);
    }
    return out;
  }

  /** Flushes what is left: unterminated lines and an incomplete trailing frame. */
  end(): LogLine[] {
    const out: LogLine[] = [];
    if (this.buf.length) {
      // A truncated frame (connection cut): keep its payload rather than losing it.
      const payload = this.buf.length > 8 ? this.buf.subarray(8) : Buffer.alloc(0);
      this.text(this.buf.readUInt8(0) === 2 ? 'stderr' : 'stdout', payload, out);
      this.buf = Buffer.alloc(0);
    }
    for (const s of ['stdout', 'stderr'] as const) {
      const rest = this.partial[s] + this.decoders[s].end();
      this.partial[s] = '';
      if (rest.length) out.push({ stream: s, text: rest });
    }
    return out;
  }

  private text(stream: Stream, bytes: Buffer, out: LogLine[]): void {
    const s = this.partial[stream] + this.decoders[stream].write(bytes);
    const parts = s.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const text of parts) out.push({ stream, text });
  }
}
