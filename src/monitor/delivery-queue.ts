/**
 * The alert delivery queue: every post, reply and edit for every channel is written to SQLite
 * first and then delivered in order, one channel at a time. A failed delivery (chat down, 429,
 * 5xx, timeout) stays at the head of its channel's queue and is retried with exponential
 * backoff, and a restart of SiteFlow carries on where it stopped. Jobs are queued for every
 * expected channel from the start (a chat surface attaches its channel once it connects) and
 * delivered once the channel is attached. Channels say how a failure counts with a coded error
 * (`ALERT_DELIVERY_FAILED`, `ALERT_DELIVERY_GONE`; anything else is retried): a job that can
 * never succeed is logged, reported and dropped; an attempt that timed out is awaited, never
 * repeated while it may still succeed. Notification channels (`threaded: false`) get posts and
 * edits only: no thread replies, no incident children, no take-overs of another alert's message.
 */
import {
  type AlertChannel,
  type AlertRecord,
  type AlertRef,
  alertText,
  type DeliveryContext,
} from '../core/alerts.js';
import { type ClockTimers, timersOf } from '../core/clock.js';
import { describeError, isSiteFlowError } from '../core/errors.js';
import type { Clock, ClockTimer, Logger } from '../core/ports.js';
import type { Delivery, SqliteAlertStore } from '../db/sqlite-alert-store.js';

/** Options of {@link AlertDeliveryQueue}. */
export interface DeliveryQueueOptions {
  store: SqliteAlertStore;
  /** Time and timers (backoff, attempt deadlines) go through it. */
  clock: Clock;
  logger: Logger;
  /** First and longest wait between attempts (default 1 s and 5 min). */
  backoffMs?: { initial: number; max: number };
  /** One attempt may take this long before it counts as failed (default 30 s). */
  attemptTimeoutMs?: number;
  /**
   * An attempt still without an answer this long after it started is given up (dropped and
   * reported through onDropped), so the channel's later jobs go out (default 4 attempt timeouts).
   */
  giveUpAfterMs?: number;
  /** Called when the queue length may have changed. */
  onLength?: (channel: string, length: number) => void;
  /**
   * Names of the channels expected to attach (configured): jobs are queued for them before
   * they attach and delivered once they do.
   */
  expectedChannels?: readonly string[];
  /** Called when a job was dropped because it can never succeed. */
  onDropped?: (d: Delivery, error: string) => void;
  /** Which of `channels` an alert goes to (ALERT_ROUTES_FILE); default: all of them. */
  route?: (alert: AlertRecord, channels: readonly string[]) => readonly string[];
}

/** An attempt that ran out of time; its request may still be under way. */
class AttemptTimeout extends Error {}

/** Delivers alerts to channels through a persisted queue; see the module comment. */
export class AlertDeliveryQueue {
  private readonly channels = new Map<string, AlertChannel>();
  private readonly busy = new Set<string>();
  /** Kicked while busy: look at the queue once more when done. */
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, ClockTimer>();
  /** Pumps running now, per channel (see idle()). */
  private readonly pumps = new Map<string, Promise<void>>();
  private readonly time: ClockTimers;
  /** Per channel: an attempt that timed out and may still be running (awaited before any retry). */
  private readonly pending = new Map<string, { id: number; promise: Promise<void>; since: number }>();
  private readonly expected: readonly string[];
  private stopped = false;
  private readonly backoff: { initial: number; max: number };
  private readonly attemptTimeoutMs: number;
  private readonly giveUpAfterMs: number;

  private onLength: ((channel: string, length: number) => void) | undefined;

  constructor(private readonly opts: DeliveryQueueOptions) {
    this.onLength = opts.onLength;
    this.backoff = opts.backoffMs ?? { initial: 1000, max: 300_000 };
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 30_000;
    this.giveUpAfterMs = opts.giveUpAfterMs ?? 4 * this.attemptTimeoutMs;
    this.expected = [...new Set(opts.expectedChannels ?? [])];
    this.time = timersOf(opts.clock);
  }

  /** Adds a channel and delivers whatever is queued for it. */
  addChannel(ch: AlertChannel): void {
    this.channels.set(ch.name, ch);
    this.kick(ch.name);
  }

  /** Reports each channel's queue length when it may have changed (e.g. to /metrics). */
  reportLength(fn: (channel: string, length: number) => void): void {
    this.onLength = fn;
    for (const name of this.channelNames()) fn(name, this.opts.store.queueLength(name));
  }

  /** Names of the channels: the expected ones and those attached. */
  channelNames(): string[] {
    return [...new Set([...this.expected, ...this.channels.keys()])];
  }

  /** Queues a post of `alert` on every channel (or the edit of `takeOver`'s message into it). */
  post(alert: AlertRecord, takeOver?: string): void {
    this.enqueueAll(alert, 'post', alert, undefined, takeOver);
  }

  /** Queues an edit of `alert` on every channel (only notification channels with `unthreadedOnly`). */
  update(alert: AlertRecord, opts: { unthreadedOnly?: boolean } = {}): void {
    this.enqueueAll(alert, 'update', alert, undefined, undefined, opts.unthreadedOnly);
  }

  /** Queues a reply in `alert`'s thread on every channel. */
  reply(alert: AlertRecord, text: string): void {
    this.enqueueAll(alert, 'reply', undefined, text);
  }

  /** Deliveries waiting overall. */
  length(): number {
    return this.opts.store.queueLength();
  }

  /** Stops delivering (queued jobs stay in the database). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  /**
   * Resolves once nothing is being delivered right now, or after `timeoutMs` on the clock
   * (tests, shutdown): every job queued so far was attempted (delivered, dropped, or waiting for
   * its backoff or its channel to attach).
   */
  async idle(timeoutMs = 5000): Promise<void> {
    const ac = new AbortController();
    let timedOut = false;
    const expired = this.time.sleep(timeoutMs, ac.signal).then(() => {
      timedOut = true;
    });
    try {
      while (this.pumps.size > 0 && !timedOut)
        await Promise.race([Promise.allSettled([...this.pumps.values()]), expired]);
    } finally {
      ac.abort();
    }
  }

  /** Whether a channel is delivering right now. */
  delivering(): boolean {
    return this.pumps.size > 0;
  }

  /** The channels an alert goes to (all, or those its route names). */
  channelsFor(alert: AlertRecord): string[] {
    const all = this.channelNames();
    return this.opts.route ? [...this.opts.route(alert, all)] : all;
  }

  private enqueueAll(
    subject: AlertRecord,
    op: 'post' | 'reply' | 'update',
    alert?: AlertRecord,
    text?: string,
    takeOver?: string,
    unthreadedOnly = false,
  ): void {
    const at = this.opts.clock.now();
    const alertId = subject.id;
    for (const name of this.channelsFor(subject)) {
      if (unthreadedOnly && this.channels.get(name)?.threaded !== false) continue;
      this.opts.store.enqueue({
        channel: name,
        alertId,
        op,
        ...(alert ? { alert } : {}),
        ...(text !== undefined ? { text } : {}),
        ...(takeOver ? { takeOver } : {}),
        at,
      });
      this.kick(name);
    }
  }

  private kick(name: string): void {
    // Stopped: the database may be closed already; the jobs wait for the next start.
    if (this.stopped) return;
    // A channel not attached yet keeps its jobs until it is.
    if (!this.channels.has(name)) {
      try {
        this.onLength?.(name, this.opts.store.queueLength(name));
      } catch {
        // Only a gauge: the database may be briefly unavailable.
      }
      return;
    }
    if (this.busy.has(name)) {
      this.again.add(name);
      return;
    }
    const t = this.timers.get(name);
    if (t) {
      t.cancel();
      this.timers.delete(name);
    }
    this.busy.add(name);
    const pumping = this.pump(name)
      .catch((e) => {
        // The queue's own database writes failed (a full disk, a lock held too long): the jobs
        // stay queued and are tried again after the longest backoff; never an unhandled
        // rejection, which would end SiteFlow.
        this.opts.logger.warn(
          { channel: name, err: describeError(e), retryInMs: this.backoff.max },
          'alert queue could not update its database; retrying',
        );
        if (!this.stopped) this.schedule(name, this.backoff.max);
      })
      .finally(() => {
        this.busy.delete(name);
        if (this.pumps.get(name) === pumping) this.pumps.delete(name);
        if (this.again.delete(name)) this.kick(name);
      });
    this.pumps.set(name, pumping);
  }

  private async pump(name: string): Promise<void> {
    const ch = this.channels.get(name);
    if (!ch) return;
    const { store, clock, logger } = this.opts;
    for (;;) {
      if (this.stopped) return;
      const d = store.head(name);
      this.onLength?.(name, store.queueLength(name));
      if (!d) return;
      const wait = d.nextAt - clock.now();
      if (wait > 0) {
        this.schedule(name, wait);
        return;
      }
      // An earlier attempt of this job that timed out may still be running: wait for it
      // instead of sending again (a late success must not be followed by a duplicate).
      const earlier = this.pending.get(name);
      const attempt =
        earlier?.id === d.id ? earlier : { id: d.id, promise: this.deliver(ch, d), since: clock.now() };
      if (earlier && earlier !== attempt) this.pending.delete(name);
      try {
        await this.time.deadline(
          attempt.promise,
          this.attemptTimeoutMs,
          () => new AttemptTimeout(`no answer within ${this.attemptTimeoutMs} ms`),
        );
        this.pending.delete(name);
        store.done(d.id);
      } catch (e) {
        if (this.stopped) return; // shutting down: the job stays queued for the next start
        if (e instanceof AttemptTimeout && clock.now() - attempt.since >= this.giveUpAfterMs) {
          // A request that never answers must not hold the channel's later alerts forever.
          this.pending.delete(name);
          this.drop(
            name,
            d,
            new Error(
              `no answer from ${name} for ${Math.round((clock.now() - attempt.since) / 1000)} s; given up`,
            ),
          );
          continue;
        }
        if (e instanceof AttemptTimeout) this.pending.set(name, attempt);
        else this.pending.delete(name);
        if (attempt === earlier && !(e instanceof AttemptTimeout) && !classifyDeliveryError(e).permanent) {
          // The earlier attempt failed after all: nothing went out, so send afresh now.
          continue;
        }
        if (classifyDeliveryError(e).permanent) {
          this.drop(name, d, e);
          continue;
        }
        const attempts = d.attempts + 1;
        const delay = Math.min(this.backoff.max, this.backoff.initial * 2 ** Math.min(20, attempts - 1));
        store.failed(d.id, attempts, clock.now() + delay, describeError(e));
        logger.warn(
          { channel: name, alertId: d.alertId, op: d.op, attempts, retryInMs: delay, err: describeError(e) },
          'alert delivery failed; will retry',
        );
        this.onLength?.(name, store.queueLength(name));
        this.schedule(name, delay);
        return;
      }
    }
  }

  /** A job that can never succeed: logged, reported and removed; a gone message's ref is forgotten. */
  private drop(name: string, d: Delivery, e: unknown): void {
    const { store, logger } = this.opts;
    const err = describeError(e);
    if (classifyDeliveryError(e).gone) {
      // Its message (or thread, or channel) is gone: follow-ups of the alert are skipped, and a
      // post that was to edit or answer a gone message is posted afresh.
      const ids = d.op === 'post' ? [d.alertId, d.takeOver, d.alert?.parentId] : [d.alertId];
      let dropped = 0;
      for (const id of ids) if (id && store.dropRef(id, name)) dropped++;
      if (d.op === 'post' && dropped > 0) {
        logger.warn({ channel: name, alertId: d.alertId, err }, 'alert message gone; posting afresh');
        return;
      }
    }
    logger.error(
      { channel: name, alertId: d.alertId, op: d.op, attempts: d.attempts + 1, err },
      'alert delivery can never succeed; dropped',
    );
    store.done(d.id);
    this.onLength?.(name, store.queueLength(name));
    try {
      this.opts.onDropped?.(d, err);
    } catch (x) {
      logger.warn({ err: describeError(x) }, 'onDropped failed');
    }
  }

  private async deliver(ch: AlertChannel, d: Delivery): Promise<void> {
    const { store, logger } = this.opts;
    const ctx: DeliveryContext = { deliveryId: d.deliveryId };
    const threaded = ch.threaded !== false;
    const ref = store.ref(d.alertId, ch.name);
    if (d.op === 'post') {
      if (ref) return; // already posted (a retry after a timeout that did succeed)
      const alert = d.alert!;
      // A notification channel hears of the incident, not of each site listed in its thread.
      if (!threaded && alert.parentId) return;
      const carrier = d.takeOver && threaded ? store.ref(d.takeOver, ch.name) : null;
      if (carrier && carrier.child !== '1') {
        // The incident takes over an alert posted moments ago: its message becomes the incident.
        store.setRef(alert.id, ch.name, carrier);
        await ch.update(carrier, alert, ctx);
        return;
      }
      const parentRef = alert.parentId ? store.ref(alert.parentId, ch.name) : null;
      if (parentRef) {
        // A child of an incident: listed in the incident's thread.
        await ch.reply(parentRef, alertText(alert), ctx);
        store.setRef(alert.id, ch.name, { ...parentRef, child: '1' });
        return;
      }
      store.setRef(alert.id, ch.name, await ch.post(alert, ctx));
      return;
    }
    if (!ref) {
      // Never posted on this channel (it was added later): nothing to answer or edit.
      logger.debug({ channel: ch.name, alertId: d.alertId, op: d.op }, 'no message to follow up on; skipped');
      return;
    }
    if (d.op === 'reply') {
      if (threaded) await ch.reply(parentOrSelf(ref), d.text ?? '', ctx);
    } else if (ref.child !== '1') await ch.update(ref, d.alert!, ctx);
  }

  private schedule(name: string, ms: number): void {
    if (this.stopped) return;
    this.timers.get(name)?.cancel();
    const t = this.time.setTimeout(() => {
      this.timers.delete(name);
      this.kick(name);
    }, ms);
    this.timers.set(name, t);
  }
}

function parentOrSelf(ref: AlertRef): AlertRef {
  const { child: _c, ...rest } = ref;
  return rest;
}

/**
 * Whether a delivery error can never go away by retrying (`permanent`: the channel threw
 * `ALERT_DELIVERY_FAILED` or `ALERT_DELIVERY_GONE`), and whether it says the target message,
 * thread or channel no longer exists (`gone`). Anything else (an uncoded error, a timeout) is retried.
 */
export function classifyDeliveryError(e: unknown): { permanent: boolean; gone: boolean } {
  if (isSiteFlowError(e, 'ALERT_DELIVERY_')) {
    if (e.code === 'ALERT_DELIVERY_GONE') return { permanent: true, gone: true };
    if (e.code === 'ALERT_DELIVERY_FAILED') return { permanent: true, gone: false };
  }
  return { permanent: false, gone: false };
}
