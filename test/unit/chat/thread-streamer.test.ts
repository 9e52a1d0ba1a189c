import { describe, expect, it } from 'vitest';
import { type MessageSink, streamToThread } from '../../../src/chat/stream/thread-streamer.js';
import type { RunEvent } from '../../../src/core/run-events.js';

class FakeThread implements MessageSink {
  messages = new Map<string, string[]>();
  order: string[] = [];
  writes: Array<{ start: number; end: number; text: string }> = [];
  attachments: Array<{ name: string; content: string; comment: string }> = [];
  failNext = 0;
  private n = 0;
  constructor(private readonly latencyMs = 0) {}
  private async io(text: string) {
    const start = Date.now();
    await new Promise((r) => setTimeout(r, this.latencyMs));
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('429 rate limited');
    }
    this.writes.push({ start, end: Date.now(), text });
  }
  async post(text: string) {
    await this.io(text);
    const id = `m${++this.n}`;
    this.messages.set(id, [text]);
    this.order.push(id);
    return id;
  }
  async edit(id: string, text: string) {
    await this.io(text);
    this.messages.get(id)!.push(text);
  }
  async attach(name: string, content: Buffer, comment: string) {
    this.attachments.push({ name, content: content.toString('utf8'), comment });
  }
  final(id: string) {
    return this.messages.get(id)!.at(-1)!;
  }
}

const wrap = (b: string) => `\`\`\`\n${b}\n\`\`\``;
const END: RunEvent = { type: 'end', status: 'succeeded', exitCode: 0, error: null, durationMs: 5, at: 0 };

async function* lines(n: number, width = 12): AsyncGenerator<RunEvent> {
  for (let i = 0; i < n; i++) {
    yield { type: 'line', stream: 'stdout', text: `line ${String(i).padStart(width - 5, '0')}`, at: 0 };
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  yield END;
}

const endOpts = (log: string) => ({
  summary: () => '✓ done',
  readLog: async () => log,
  filename: 'op.log',
});

describe('streamToThread', () => {
  it('keeps every write under the limit, paces writes, and attaches the full log of a 20,000-line run', async () => {
    const thread = new FakeThread(5);
    const all = Array.from({ length: 20_000 }, (_, i) => `line ${String(i).padStart(7, '0')}`).join('\n');
    let produced = 0;
    async function* source(): AsyncGenerator<RunEvent> {
      for await (const ev of lines(20_000)) {
        if (ev.type === 'line') produced++;
        yield ev;
      }
    }
    const report = await streamToThread(
      source(),
      thread,
      { maxChars: 2000, minIntervalMs: 40, maxMessages: 3, wrap },
      endOpts(all),
    );
    expect(produced).toBe(20_000);
    for (const w of thread.writes) expect(w.text.length).toBeLessThanOrEqual(2000);
    for (let i = 1; i < thread.writes.length; i++) {
      // The next write starts only after the previous one resolved, and not sooner than the interval.
      expect(thread.writes[i]!.start).toBeGreaterThanOrEqual(thread.writes[i - 1]!.end);
      expect(thread.writes[i]!.start - thread.writes[i - 1]!.end).toBeGreaterThanOrEqual(40 - 1);
    }
    expect(report.messages).toBeLessThanOrEqual(3);
    expect(report.attached).toBe(true);
    expect(thread.attachments[0]!.content).toBe(all);
    // The last message is a live tail ending with the last line.
    const last = thread.final(thread.order.at(-1)!);
    expect(last).toContain('line 0019999');
    expect(last).toMatch(/earlier lines not shown here/);
  });

  it('posts small output in one message, then the summary, without an attachment', async () => {
    const thread = new FakeThread();
    const report = await streamToThread(
      lines(5),
      thread,
      { maxChars: 2000, minIntervalMs: 10, maxMessages: 3, wrap },
      endOpts(''),
    );
    expect(report.attached).toBe(false);
    expect(thread.order).toHaveLength(2);
    const body = thread.final(thread.order[0]!);
    for (let i = 0; i < 5; i++) expect(body).toContain(`line ${String(i).padStart(7, '0')}`);
    expect(thread.final(thread.order[1]!)).toBe('✓ done');
  });

  it('rolls over to new messages and shows every line exactly once when it fits in maxMessages', async () => {
    const thread = new FakeThread();
    await streamToThread(
      lines(300),
      thread,
      { maxChars: 2000, minIntervalMs: 5, maxMessages: 5, wrap },
      endOpts(''),
    );
    const shown = thread.order
      .slice(0, -1)
      .flatMap((id) => thread.final(id).split('\n'))
      .filter((l) => l.startsWith('│ line'));
    expect(shown).toHaveLength(300);
    expect(new Set(shown).size).toBe(300);
    expect(thread.order.length).toBeGreaterThan(2);
  });

  it('coalesces progress into one line per key and drops it from the final message', async () => {
    const thread = new FakeThread();
    async function* src(): AsyncGenerator<RunEvent> {
      for (let i = 0; i <= 100; i++) yield { type: 'progress', key: 'app:v1', text: `${i}%`, at: 0 };
      yield { type: 'line', stream: 'stdout', text: 'pulled', at: 0 };
      yield END;
    }
    await streamToThread(
      src(),
      thread,
      { maxChars: 2000, minIntervalMs: 5, maxMessages: 3, wrap },
      endOpts(''),
    );
    const history = thread.messages.get(thread.order[0]!)!;
    for (const t of history) expect(t.match(/app:v1/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(thread.final(thread.order[0]!)).not.toContain('app:v1');
    expect(thread.final(thread.order[0]!)).toContain('pulled');
  });

  it('survives failing writes and attaches the log so nothing is lost', async () => {
    const thread = new FakeThread();
    thread.failNext = 1;
    const report = await streamToThread(
      lines(10),
      thread,
      { maxChars: 2000, minIntervalMs: 5, maxMessages: 3, wrap },
      endOpts('LOG'),
    );
    expect(report.failedWrites).toBe(1);
    expect(report.attached).toBe(true);
    expect(thread.attachments[0]!.content).toBe('LOG');
  });
});

describe('streamToThread edge cases', () => {
  it('finishes (as interrupted) when the stream stops without an end event', async () => {
    const thread = new FakeThread();
    async function* cut(): AsyncGenerator<RunEvent> {
      yield { type: 'line', stream: 'stdout', text: 'only line', at: 0 };
    }
    let summarised = '';
    const report = await streamToThread(
      cut(),
      thread,
      { maxChars: 2000, minIntervalMs: 5, maxMessages: 3, wrap },
      { summary: (e) => (summarised = e.status), readLog: async () => 'only line', filename: 'op.log' },
    );
    expect(summarised).toBe('interrupted');
    expect(report.messages).toBeGreaterThanOrEqual(1);
  });

  it('keeps many progress keys and over-long lines inside the limit', async () => {
    const thread = new FakeThread();
    async function* src(): AsyncGenerator<RunEvent> {
      for (let i = 0; i < 30; i++)
        yield {
          type: 'progress',
          key: `registry.example/image-${i}:1`,
          text: 'Downloading 10.0 / 99.0 MB',
          at: 0,
        };
      yield { type: 'line', stream: 'stdout', text: 'x'.repeat(5000), at: 0 };
      yield { type: 'line', stream: 'stdout', text: 'after', at: 0 };
      yield END;
    }
    await streamToThread(
      src(),
      thread,
      { maxChars: 2000, minIntervalMs: 5, maxMessages: 3, wrap },
      endOpts(''),
    );
    for (const w of thread.writes) expect(w.text.length).toBeLessThanOrEqual(2000);
    const all = thread.order.flatMap((id) => thread.messages.get(id)!);
    expect(all.some((t) => t.includes('after'))).toBe(true);
    expect(all.every((t) => t !== wrap('…'))).toBe(true);
  });
});
