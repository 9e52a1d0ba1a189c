import { PassThrough } from 'node:stream';

/** Drives a console surface through streams, like a person typing into a terminal. */
export class ConsoleDriver {
  readonly input = new PassThrough();
  readonly output = new PassThrough();
  private text = '';
  private waiters: Array<() => void> = [];

  constructor() {
    this.output.setEncoding('utf8');
    this.output.on('data', (chunk: string) => {
      this.text += chunk;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Everything printed so far. */
  get transcript(): string {
    return this.text;
  }

  /** Types a line and waits until the output contains `until` after this point. */
  async type(line: string, until: string | RegExp, timeoutMs = 15_000): Promise<string> {
    const from = this.text.length;
    this.input.write(`${line}\n`);
    return this.waitFor(until, from, timeoutMs);
  }

  /** Waits until the output after `from` matches; returns that part. */
  async waitFor(until: string | RegExp, from = 0, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const part = this.text.slice(from);
      if (typeof until === 'string' ? part.includes(until) : until.test(part)) return part;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(until)}; got:\n${part}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  end(): void {
    this.input.end();
  }
}
