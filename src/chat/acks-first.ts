/**
 * Acknowledgements before work, for every chat platform. Slack retries a request not answered
 * within 3 s and Discord drops an interaction not acknowledged within 3 s, and under a burst of
 * commands an acknowledgement otherwise waits behind the work of the commands before it
 * (dispatch, audit, replies): that work starts in the same turn of the event loop as their acks,
 * before the next request is even read off its socket. Here the work waits until every
 * acknowledgement under way is done (Slack: every request received so far is answered, see
 * `received`; Discord: every `deferReply` has returned, see `acknowledging`), and starts one job
 * per turn of the event loop, so a request arriving meanwhile is read and acknowledged between
 * two jobs. A job waits at most `maxWaitMs`, so a steady stream of requests cannot starve the
 * work.
 */

/** What AcksFirst needs of a response: that it says when it is done. */
export interface Answerable {
  once(event: 'close', listener: () => void): unknown;
}

interface Job {
  at: number;
  run: () => void;
}

/** Runs work after the acknowledgements of the requests received so far. */
export class AcksFirst {
  private open = 0;
  private readonly queue: Job[] = [];
  private scheduled = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** `now` is the event loop's own monotonic time, not the clock port: it measures waiting, not dates. */
  constructor(
    private readonly maxWaitMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Requests received and not answered yet. */
  get unanswered(): number {
    return this.open;
  }

  /** Counts a received request until its response is sent (or its connection is gone). */
  received(res: Answerable): void {
    this.open++;
    res.once('close', () => this.answered());
  }

  /** Counts an acknowledgement under way (a call to the platform) until it settles; resolves or rejects with it. */
  async acknowledging<T>(ack: Promise<T>): Promise<T> {
    this.open++;
    try {
      return await ack;
    } finally {
      this.answered();
    }
  }

  /** Resolves once the acknowledgements under way are out (or after `maxWaitMs`). */
  settled(): Promise<void> {
    return this.later(async () => undefined);
  }

  private answered(): void {
    this.open--;
    if (this.open > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.schedule();
  }

  /** Runs `fn` once the acknowledgements are out; resolves or rejects with it. */
  later<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ at: this.now(), run: () => void fn().then(resolve, reject) });
      this.schedule();
    });
  }

  /** Steps the queue on the next turn of the event loop (after the poll phase reads new requests). */
  private schedule(): void {
    if (this.scheduled || !this.queue.length) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.step();
    });
  }

  /** Starts the first job, unless requests wait for their answer and it may wait longer. */
  private step(): void {
    const job = this.queue[0];
    if (!job) return;
    const wait = job.at + this.maxWaitMs - this.now();
    if (this.open > 0 && wait > 0) {
      // The last answer or the timer steps again.
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, wait);
      return;
    }
    this.queue.shift();
    job.run();
    this.schedule();
  }
}
