import type { RunLog, RunLogWriter } from '../../../src/core/ports.js';

/** A hand-written in-memory RunLog for unit tests: each log is a list of lines. */
export class MemoryRunLog implements RunLog {
  readonly logs = new Map<string, { lines: string[]; closed: boolean }>();

  open(opId: string): RunLogWriter {
    const path = `mem/${opId}.log`;
    const log = { lines: [] as string[], closed: false };
    this.logs.set(path, log);
    return {
      path,
      write(line: string) {
        if (log.closed) throw new Error(`write after close: ${path}`);
        log.lines.push(line);
      },
      async close() {
        log.closed = true;
      },
    };
  }
  async read(path: string): Promise<string> {
    const log = this.logs.get(path);
    if (!log) throw new Error(`no log ${path}`);
    return log.lines.map((l) => `${l}\n`).join('');
  }
  async readTail(path: string, maxBytes: number): Promise<{ text: string; cut: boolean }> {
    const all = Buffer.from(await this.read(path), 'utf8');
    if (all.length <= maxBytes) return { text: all.toString('utf8'), cut: false };
    const tail = all.subarray(all.length - maxBytes - 1);
    const nl = tail.indexOf(0x0a);
    return { text: nl < 0 ? '' : tail.subarray(nl + 1).toString('utf8'), cut: true };
  }
  async remove(path: string): Promise<void> {
    this.logs.delete(path);
  }
  /** The lines of a log (test helper). */
  lines(path: string | null): string[] {
    return (path && this.logs.get(path)?.lines) || [];
  }
}
