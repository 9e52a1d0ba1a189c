import { PassThrough } from 'node:stream';
import { waitFor } from '../env/harness.js';

/**
 * What `/status <site>` answers with on the console: `<site>: <state> (n/m up) on <host>`. Other
 * output on the same console (alerts about other tests' containers on the shared engine) also
 * says "on local", so wait for this line, not for those words.
 */
export function statusAnswer(site: string, host = 'local'): RegExp {
  return new RegExp(`${site}: .*\\(\\d+/\\d+ up\\) on ${host}`);
}

/** Drives a console surface through streams, like a person typing into a terminal. */
export class ConsoleDriver {
  readonly input = new PassThrough();
  readonly output = new PassThrough();
  private text = '';
  private readonly waiters = new Set<() => void>();

  constructor() {
    this.output.setEncoding('utf8');
    this.output.on('data', (chunk: string) => {
      this.text += chunk;
      for (const w of this.waiters) w();
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

  /** Waits until the output after `from` matches; returns that part (looks again on every chunk). */
  async waitFor(until: string | RegExp, from = 0, timeoutMs = 15_000): Promise<string> {
    const matches = (part: string) => (typeof until === 'string' ? part.includes(until) : until.test(part));
    try {
      return await waitFor(
        String(until),
        () => {
          const part = this.text.slice(from);
          return matches(part) ? part : null;
        },
        timeoutMs,
        {
          intervalMs: 1000,
          wake: (notify) => {
            this.waiters.add(notify);
            return () => this.waiters.delete(notify);
          },
        },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; got:\n${this.text.slice(from)}`);
    }
  }

  end(): void {
    this.input.end();
  }
}
