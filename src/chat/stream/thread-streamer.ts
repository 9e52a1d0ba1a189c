/**
 * Streams a run's output into a chat thread the way every platform allows: one progress
 * message edited in place at most every `minIntervalMs` (the next edit is scheduled only
 * after the previous one resolved), rolled over to a new message before the platform's
 * length limit, and after `maxMessages` a live tail in the last message. At the end a
 * summary is posted and, when anything did not fit, the full log is attached.
 * Reading events never waits for the chat: a slow platform only means fewer edits.
 * Pattern after vercel/chat's post-then-edit fallback.
 */

import type { Logger } from '../../core/ports.js';
import { endedEarly, type RunEndEvent, type RunEvent } from '../../core/run-events.js';
import { renderRunEvent, skippedText } from '../render-run.js';

/** Where the streamer writes: one thread of one platform. */
export interface MessageSink {
  /** Posts a new message in the thread; resolves to its id. */
  post(text: string): Promise<string>;
  /** Replaces the text of a message posted before. */
  edit(id: string, text: string): Promise<void>;
  /**
   * Optional: uploads a file into the thread with a short comment. Without it the summary is
   * posted alone (the whole log stays on the run's page).
   */
  attach?(filename: string, content: Buffer, comment: string): Promise<void>;
}

/** Platform limits and markup. */
export interface StreamOptions {
  /** Longest message the platform accepts, markup included (Discord 2000, Slack ~3000 per section). */
  maxChars: number;
  /** Least time between two writes of the progress message. */
  minIntervalMs: number;
  /** Messages used before the last one becomes a live tail. */
  maxMessages: number;
  /** Wraps a body of plain lines into the platform's code block markup. */
  wrap(body: string): string;
  logger?: Logger;
}

/** What to do at the end. */
export interface StreamEnd {
  summary(end: RunEndEvent): string;
  /** The complete output (the run log), for the attachment. */
  readLog(): Promise<string>;
  filename: string;
}

/** What the streamer did, for tests and metrics. */
export interface StreamReport {
  messages: number;
  writes: number;
  attached: boolean;
  /** Lines that no message showed (skipped by the hub or scrolled out of the live tail). */
  unshown: number;
  failedWrites: number;
  /** How the run ended (`interrupted` when the stream stopped without an end event). */
  end: RunEndEvent;
}

const NEWLINE = '\n';
/** Progress keys shown at once (the newest). */
const MAX_PROGRESS_LINES = 5;

/** Streams `events` into `sink` until the run's end event; never throws for chat failures. */
export async function streamToThread(
  events: AsyncIterable<RunEvent>,
  sink: MessageSink,
  opts: StreamOptions,
  end: StreamEnd,
): Promise<StreamReport> {
  const budget = opts.maxChars - opts.wrap('').length;
  // A line always fits an empty message with room for its newline.
  const clampTo = (l: string, max: number) => (l.length > max ? `${l.slice(0, Math.max(0, max - 1))}…` : l);
  const clampLine = (l: string) => clampTo(l, budget - 1);
  // Progress (one line per key, e.g. per image) shows only the newest keys, each short, so
  // progress never crowds out the output itself.
  const progressLines = () =>
    [...progress]
      .slice(-MAX_PROGRESS_LINES)
      .map(([k, t]) =>
        clampTo(
          renderRunEvent({ type: 'progress', key: k, text: t, at: 0 }),
          Math.floor(budget / (2 * MAX_PROGRESS_LINES)),
        ),
      );

  // Lines of the message being written, and finished lines waiting for a new message.
  let current: string[] = [];
  let currentChars = 0;
  const progress = new Map<string, string>();
  let currentId: string | null = null;
  let messages = 0;
  let writes = 0;
  let failedWrites = 0;
  let unshown = 0;
  let tail = false;
  let lastEnd: RunEndEvent | null = null;
  /** The event stream finished (normally after `end`; a stream may also stop without one). */
  let consumeDone = false;
  let dirty = false;
  let lastWrite = 0;
  let wake: (() => void) | null = null;
  const poke = () => {
    dirty = true;
    wake?.();
  };

  const bodyOf = (lines: readonly string[]) => {
    return [...lines, ...progressLines()].join(NEWLINE) || '…';
  };
  // Room for lines in the open message: the budget less the progress lines and, in tail mode, the header.
  const room = () => budget - progressChars() - (tail ? tailHeader(unshown + 1).length + 1 : 0);
  const fits = (chars: number, extra: string) => chars + extra.length + 1 <= room();
  const progressChars = () => progressLines().reduce((n, l) => n + l.length + 1, 0);

  const tailHeader = (n: number) =>
    `… ${n} earlier line${n === 1 ? '' : 's'} not shown here; the full log is attached at the end`;

  // Consumer: drains events as fast as they come, keeping only what can still be shown.
  const finished: string[][] = []; // full messages waiting to be written before `current`
  const consume = (async () => {
    for await (const ev of events) {
      if (ev.type === 'end') {
        lastEnd = ev;
        break;
      }
      if (ev.type === 'progress') {
        progress.delete(ev.key); // re-inserted last: the newest keys are the ones shown
        progress.set(ev.key, ev.text);
        poke();
        continue;
      }
      let line = clampLine(renderRunEvent(ev));
      if (ev.type === 'skipped') unshown += ev.lines;
      // A line too long for even an empty message (next to progress) is cut to what fits.
      if (current.length === 0 && !fits(0, line)) line = clampTo(line, Math.max(1, room() - 1));
      if (fits(currentChars, line)) {
        current.push(line);
        currentChars += line.length + 1;
      } else if (!tail && messages + finished.length + 1 < opts.maxMessages) {
        finished.push(current);
        current = [line];
        currentChars = line.length + 1;
      } else {
        // Live tail: the last message shows the newest lines that fit.
        tail = true;
        current.push(line);
        currentChars += line.length + 1;
        while (current.length > 1 && currentChars > room()) {
          const dropped = current.shift()!;
          currentChars -= dropped.length + 1;
          unshown++;
        }
      }
      poke();
    }
    consumeDone = true;
    poke();
  })();

  // Every write waits for the previous one and for the interval: edits, rollovers and the summary alike.
  const write = async (fn: () => Promise<unknown>) => {
    const wait = lastWrite + opts.minIntervalMs - Date.now();
    if (lastWrite > 0 && wait > 0) await new Promise((r) => setTimeout(r, wait));
    try {
      await fn();
      writes++;
    } catch (e) {
      failedWrites++;
      opts.logger?.warn(
        { err: e instanceof Error ? e.message : String(e) },
        'chat write failed; the full log keeps every line',
      );
    } finally {
      lastWrite = Date.now();
    }
  };

  const flush = async () => {
    dirty = false;
    // Finished messages first: finalize the open one, then post the rest.
    while (finished.length) {
      const lines = finished.shift()!;
      const text = opts.wrap(lines.join(NEWLINE) || '…');
      if (currentId) {
        const id = currentId;
        await write(() => sink.edit(id, text));
        currentId = null;
      } else {
        await write(async () => {
          await sink.post(text);
          messages++;
        });
      }
    }
    const shown = tail && unshown > 0 ? [tailHeader(unshown), ...current] : current;
    const text = opts.wrap(bodyOf(shown));
    if (currentId) {
      const id = currentId;
      await write(() => sink.edit(id, text));
    } else {
      await write(async () => {
        currentId = await sink.post(text);
        messages++;
      });
    }
  };

  for (;;) {
    if (!dirty) {
      if (lastEnd !== null || consumeDone) break;
      await Promise.race([new Promise<void>((r) => (wake = r)), consume]);
      wake = null;
      continue;
    }
    // Events keep flowing into the state while a write waits for its turn.
    await flush();
  }
  await consume;
  // Progress lines are transient; the final message shows the finished state only.
  progress.clear();
  if (currentId || current.length) await flush();

  const endEv: RunEndEvent = lastEnd ?? endedEarly(Date.now());
  const needsLog = unshown > 0 || tail || failedWrites > 0;
  const summary = end.summary(endEv);
  let attached = false;
  const attach = sink.attach?.bind(sink);
  if (needsLog && attach) {
    await write(async () => {
      const log = await end.readLog();
      await attach(end.filename, Buffer.from(log, 'utf8'), `${summary}\nFull log attached: ${end.filename}`);
      attached = true;
    });
  }
  // Without an attachment (not needed, or it failed) the summary is a message of its own.
  if (!attached) await write(() => sink.post(summary));
  return { messages, writes, attached, unshown, failedWrites, end: endEv };
}

export { skippedText };
