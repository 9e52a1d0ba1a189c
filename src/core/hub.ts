/**
 * The output hub: multicasts each run's events to any number of subscribers (chat
 * threads, the status page). Memory is bounded everywhere and the producer never waits:
 * - per run, a ring buffer of the last `bufferSize` events (progress coalesced by key)
 *   so a late subscriber replays what is left, after a `skipped` marker if the start
 *   fell out;
 * - per subscriber, a queue of at most `queueSize` events; when a slow subscriber's queue
 *   is full the older half is dropped and it gets one `skipped` marker in its place, then
 *   carries on with newer output;
 * - finished runs are forgotten after `retainFinished` newer runs finished (or `retainMs`).
 */
import type { RunEvent } from './run-events.js';

/** Sizes of the hub's buffers. */
export interface OutputHubOptions {
  /** Events kept per run for late subscribers (default 1000). */
  bufferSize?: number;
  /** Events queued per subscriber before the oldest are dropped (default 500). */
  queueSize?: number;
  /** Finished runs kept for replay (default 50). */
  retainFinished?: number;
  /** Also forget a finished run this long after its end (ms; default: only by count). */
  retainMs?: number;
}

/** Called synchronously for every event of every run; must be quick and must not throw. */
export type AnyRunListener = (runId: string, event: RunEvent) => void;

/**
 * A live subscription: iterate it with `for await`. It ends after the run's `end` event;
 * breaking out of the loop (or `close()`) unsubscribes.
 */
export interface RunSubscription extends AsyncIterableIterator<RunEvent> {
  /** Unsubscribes and ends the iteration. */
  close(): void;
  /** Events waiting to be read (a pending skip marker counts as one); at most `queueSize` + 1. */
  readonly pending: number;
}

/** Counts for monitoring and benchmarks. */
export interface HubStats {
  runs: number;
  subscribers: number;
  bufferedEvents: number;
  queuedEvents: number;
}

type Slot = { ev: RunEvent };
type Resolver = (r: IteratorResult<RunEvent, undefined>) => void;
const DONE: IteratorResult<RunEvent, undefined> = { value: undefined, done: true };

/** One subscriber's bounded queue (a ring of slots; progress slots are updated in place). */
class Subscriber implements RunSubscription {
  private readonly slots: Array<Slot | undefined>;
  private head = 0;
  private size = 0;
  private readonly progress = new Map<string, Slot>();
  /** Events dropped just before the head, reported as one marker when reading resumes. */
  private skipped = 0;
  private skippedAt = 0;
  /** A marker was just delivered: the head event must follow it before any further drop. */
  private pinned = false;
  private waiting: Resolver | null = null;
  private finished = false;

  constructor(
    private readonly cap: number,
    private readonly onClose: (s: Subscriber) => void,
  ) {
    this.slots = new Array(cap);
  }

  get pending(): number {
    return this.size + (this.skipped > 0 ? 1 : 0);
  }

  push(ev: RunEvent): void {
    if (this.finished) return;
    if (ev.type === 'progress') {
      const s = this.progress.get(ev.key);
      if (s) {
        s.ev = ev;
        return;
      }
    }
    if (ev.type === 'skipped' && this.size === 0) {
      this.skipped += ev.lines;
      this.skippedAt = ev.at;
    } else {
      if (this.size === this.cap) this.dropOldest();
      const slot: Slot = { ev };
      this.slots[(this.head + this.size) % this.cap] = slot;
      this.size++;
      if (ev.type === 'progress') this.progress.set(ev.key, slot);
    }
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ value: this.take()!, done: false });
    }
  }

  /**
   * Drops the older half of the queue at once: the reader then skips ahead in one jump and
   * gets a contiguous run of newer output, instead of a marker between every two lines.
   */
  private dropOldest(): void {
    // The event right after a delivered marker is kept, so a reader never gets two markers in a row.
    const keep = this.pinned && this.cap > 1 ? this.shift() : null;
    this.pinned = keep !== null;
    for (let n = Math.max(1, this.cap >> 1); n > 0 && this.size > 0; n--) {
      const slot = this.shift();
      this.skipped += slot.ev.type === 'skipped' ? slot.ev.lines : 1;
      this.skippedAt = slot.ev.at;
    }
    if (keep) {
      this.head = (this.head - 1 + this.cap) % this.cap;
      this.slots[this.head] = keep;
      this.size++;
      if (keep.ev.type === 'progress') this.progress.set(keep.ev.key, keep);
    }
  }

  private shift(): Slot {
    const slot = this.slots[this.head]!;
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.cap;
    this.size--;
    if (slot.ev.type === 'progress' && this.progress.get(slot.ev.key) === slot)
      this.progress.delete(slot.ev.key);
    return slot;
  }

  private take(): RunEvent | undefined {
    // After a marker, its (kept) successor comes next; a newer gap behind it gets its own marker.
    if (this.skipped > 0 && !(this.pinned && this.size > 0)) {
      // Fold an adjacent replayed marker into this one: one gap, one marker.
      while (this.size > 0 && this.slots[this.head]!.ev.type === 'skipped') {
        const s = this.shift().ev as Extract<RunEvent, { type: 'skipped' }>;
        this.skipped += s.lines;
      }
      const ev: RunEvent = { type: 'skipped', lines: this.skipped, at: this.skippedAt };
      this.skipped = 0;
      this.pinned = true;
      return ev;
    }
    this.pinned = false;
    if (this.size === 0) return undefined;
    const ev = this.shift().ev;
    if (ev.type === 'end') this.finish();
    return ev;
  }

  next(): Promise<IteratorResult<RunEvent, undefined>> {
    const ev = this.take();
    if (ev) return Promise.resolve({ value: ev, done: false });
    if (this.finished) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<RunEvent, undefined>> {
    this.close();
    return Promise.resolve(DONE);
  }

  close(): void {
    this.slots.fill(undefined);
    this.size = 0;
    this.skipped = 0;
    this.progress.clear();
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.onClose(this);
    const w = this.waiting;
    this.waiting = null;
    w?.(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** One run's replay buffer: a ring of the last events, progress updated in place. */
class RunRecord {
  private readonly events: Array<RunEvent | undefined>;
  /** Absolute sequence numbers of the first kept and the next event. */
  private start = 0;
  private next = 0;
  private readonly progress = new Map<string, number>();
  private evicted = 0;
  private evictedAt = 0;
  end: RunEvent | null = null;
  readonly subscribers = new Set<Subscriber>();

  constructor(private readonly cap: number) {
    this.events = new Array(cap);
  }

  get size(): number {
    return this.next - this.start;
  }

  append(ev: RunEvent): void {
    if (ev.type === 'end') {
      this.end = ev;
      return;
    }
    if (ev.type === 'progress') {
      const seq = this.progress.get(ev.key);
      if (seq !== undefined) {
        this.events[seq % this.cap] = ev;
        return;
      }
    }
    if (this.next - this.start === this.cap) {
      const old = this.events[this.start % this.cap]!;
      if (old.type === 'progress' && this.progress.get(old.key) === this.start) this.progress.delete(old.key);
      this.evicted += old.type === 'skipped' ? old.lines : 1;
      this.evictedAt = old.at;
      this.start++;
    }
    this.events[this.next % this.cap] = ev;
    if (ev.type === 'progress') this.progress.set(ev.key, this.next);
    this.next++;
  }

  replayInto(s: Subscriber): void {
    if (this.evicted > 0) s.push({ type: 'skipped', lines: this.evicted, at: this.evictedAt });
    for (let seq = this.start; seq < this.next; seq++) s.push(this.events[seq % this.cap]!);
    if (this.end) s.push(this.end);
  }
}

/** Multicasts run output with bounded memory; see the module comment. */
export class OutputHub {
  private readonly runs = new Map<string, RunRecord>();
  private readonly finishedOrder: string[] = [];
  private readonly listeners = new Set<AnyRunListener>();
  private readonly bufferSize: number;
  private readonly queueSize: number;
  private readonly retainFinished: number;
  private readonly retainMs: number;

  constructor(opts: OutputHubOptions = {}) {
    this.bufferSize = positive(opts.bufferSize ?? 1000, 'bufferSize');
    this.queueSize = positive(opts.queueSize ?? 500, 'queueSize');
    this.retainFinished = Math.max(0, Math.floor(opts.retainFinished ?? 50));
    this.retainMs = Math.max(0, opts.retainMs ?? 0);
  }

  /** Starts a run's record so subscribers can attach before its first event (idempotent). */
  open(runId: string): void {
    if (!this.runs.has(runId)) this.runs.set(runId, new RunRecord(this.bufferSize));
  }

  /** True while the hub holds the run (running, or finished and still retained). */
  has(runId: string): boolean {
    return this.runs.has(runId);
  }

  /**
   * Publishes one event; synchronous, never waits for subscribers. An unknown run id is
   * opened; events after a run's `end` are ignored; the `end` event finishes the run.
   */
  publish(runId: string, ev: RunEvent): void {
    let rec = this.runs.get(runId);
    if (!rec) {
      rec = new RunRecord(this.bufferSize);
      this.runs.set(runId, rec);
    }
    if (rec.end) return;
    rec.append(ev);
    for (const s of rec.subscribers) s.push(ev);
    for (const l of this.listeners) {
      try {
        l(runId, ev);
      } catch {
        // A listener's failure must never reach the producer (the action).
      }
    }
    if (ev.type === 'end') this.retire(runId);
  }

  /**
   * Subscribes to a run: replays the buffer, then follows live events until `end`.
   * An unknown (or forgotten) run gives a subscription that ends at once.
   */
  subscribe(runId: string): RunSubscription {
    const rec = this.runs.get(runId);
    const sub = new Subscriber(this.queueSize, (s) => rec?.subscribers.delete(s));
    if (!rec) {
      sub.close();
      return sub;
    }
    rec.subscribers.add(sub);
    rec.replayInto(sub);
    return sub;
  }

  /** Listens to every event of every run (e.g. the status page); returns the unsubscribe. */
  onAny(listener: AnyRunListener): () => void {
    // Wrap so the same function can be registered twice and removed independently.
    const l: AnyRunListener = (id, ev) => listener(id, ev);
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  }

  /** Current sizes, for monitoring and benchmarks. */
  stats(): HubStats {
    let subscribers = 0;
    let bufferedEvents = 0;
    let queuedEvents = 0;
    for (const r of this.runs.values()) {
      subscribers += r.subscribers.size;
      bufferedEvents += r.size;
      for (const s of r.subscribers) queuedEvents += s.pending;
    }
    return { runs: this.runs.size, subscribers, bufferedEvents, queuedEvents };
  }

  private retire(runId: string): void {
    this.finishedOrder.push(runId);
    while (this.finishedOrder.length > this.retainFinished) this.runs.delete(this.finishedOrder.shift()!);
    if (this.retainMs > 0) {
      setTimeout(() => {
        const i = this.finishedOrder.indexOf(runId);
        if (i >= 0) this.finishedOrder.splice(i, 1);
        this.runs.delete(runId);
      }, this.retainMs).unref();
    }
  }
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`OutputHub: ${name} must be a positive integer`);
  return n;
}
