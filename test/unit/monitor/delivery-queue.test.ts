/**
 * The persisted alert delivery queue on real SQLite with hand-written channels: a follow-up
 * enqueued while the previous job is being sent is not lost, jobs are queued for expected
 * channels before they attach, a job that can never succeed is dropped (its gone message's ref
 * forgotten), and an attempt that timed out is awaited instead of repeated.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AlertChannel,
  type AlertRecord,
  type AlertRef,
  type DeliveryContext,
  deliveryError,
  httpDeliveryCode,
} from '../../../src/core/alerts.js';
import type { Clock, Logger } from '../../../src/core/ports.js';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { type Delivery, SqliteAlertStore } from '../../../src/db/sqlite-alert-store.js';
import { alertChannelNames } from '../../../src/monitor/create-monitor.js';
import { AlertDeliveryQueue, classifyDeliveryError } from '../../../src/monitor/delivery-queue.js';
import { waitFor } from '../../env/harness.js';
import { ManualClock } from '../../support/manual-clock.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

function alert(id: string, over: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id,
    kind: 'site',
    key: `site:local/${id}`,
    severity: 'critical',
    status: 'open',
    host: 'local',
    site: id,
    title: `${id} is down`,
    lines: [],
    silenced: false,
    parentId: null,
    openedAt: 1,
    updatedAt: 1,
    resolvedAt: null,
    ackedBy: null,
    remindedAt: 1,
    announced: true,
    ...over,
  };
}

type Call = { op: 'post' | 'reply' | 'update'; ref?: AlertRef; text: string };

/** A channel that records calls; `hook` may delay or fail a call. */
class RecordingChannel implements AlertChannel {
  readonly calls: Call[] = [];
  hook: ((c: Call) => Promise<void>) | null = null;
  private n = 0;
  constructor(readonly name: string) {}
  async post(a: AlertRecord): Promise<AlertRef> {
    const c: Call = { op: 'post', text: a.title };
    this.calls.push(c);
    await this.hook?.(c);
    return { messageId: `m${++this.n}` };
  }
  async reply(ref: AlertRef, text: string): Promise<void> {
    const c: Call = { op: 'reply', ref, text };
    this.calls.push(c);
    await this.hook?.(c);
  }
  async update(ref: AlertRef, a: AlertRecord): Promise<void> {
    const c: Call = { op: 'update', ref, text: a.title };
    this.calls.push(c);
    await this.hook?.(c);
  }
}

const until = (what: string, f: () => boolean, ms = 5000) => waitFor(what, f, ms, { intervalMs: 5 });

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let db: OpenDatabase | null = null;
const queues: AlertDeliveryQueue[] = [];
afterEach(() => {
  for (const q of queues.splice(0)) q.stop();
  db?.close();
  db = null;
});

function setup(
  opts: {
    expected?: string[];
    attemptTimeoutMs?: number;
    giveUpAfterMs?: number;
    clock?: Clock;
    backoffMs?: { initial: number; max: number };
  } = {},
) {
  db = openDatabase(':memory:');
  const store = new SqliteAlertStore(db.db);
  const dropped: Array<{ d: Delivery; error: string }> = [];
  const queue = new AlertDeliveryQueue({
    store,
    clock: opts.clock ?? { now: () => Date.now() },
    logger: quiet,
    backoffMs: opts.backoffMs ?? { initial: 10, max: 40 },
    ...(opts.attemptTimeoutMs ? { attemptTimeoutMs: opts.attemptTimeoutMs } : {}),
    giveUpAfterMs: opts.giveUpAfterMs ?? 60_000,
    ...(opts.expected ? { expectedChannels: opts.expected } : {}),
    onDropped: (d, error) => dropped.push({ d, error }),
  });
  queues.push(queue);
  return { store, queue, dropped };
}

describe('SqliteAlertStore.enqueue', () => {
  it('never merges into the head of the channel (the job being delivered)', () => {
    const { store } = setup();
    store.enqueue({ channel: 'c', alertId: 'al_a', op: 'reply', text: 'one', at: 1 });
    store.enqueue({ channel: 'c', alertId: 'al_a', op: 'reply', text: 'two', at: 2 });
    store.enqueue({ channel: 'c', alertId: 'al_a', op: 'reply', text: 'three', at: 3 });
    expect(store.queueLength('c')).toBe(2);
    expect(store.head('c')!.text).toBe('one');
    store.done(store.head('c')!.id);
    // Queued behind the head, never tried: those two were merged.
    expect(store.head('c')!.text).toBe('two\nthree');
  });
});

describe('AlertDeliveryQueue', () => {
  it('a reply arriving while the previous reply is being sent is delivered too', async () => {
    const { queue } = setup();
    const ch = new RecordingChannel('c');
    queue.addChannel(ch);
    const a = alert('al_a');
    queue.post(a);
    await until('posted', () => ch.calls.length === 1);
    const gate = deferred();
    ch.hook = (c) => (c.text === 'first' ? gate.promise : Promise.resolve());
    queue.reply(a, 'first');
    await until('first reply under way', () => ch.calls.length === 2);
    queue.reply(a, 'second');
    gate.resolve();
    await until('queue empty', () => queue.length() === 0);
    await queue.idle();
    expect(ch.calls.filter((c) => c.op === 'reply').map((c) => c.text)).toEqual(['first', 'second']);
  });

  it('a database write of the queue that fails (disk full) is retried later, never an unhandled rejection', async () => {
    const { queue, store } = setup();
    const ch = new RecordingChannel('c');
    let fails = 1;
    ch.hook = async () => {
      if (fails-- > 0) throw deliveryError('ALERT_DELIVERY_RETRY', 'HTTP 503');
    };
    const failed = store.failed.bind(store);
    let full = true;
    store.failed = (...args: Parameters<SqliteAlertStore['failed']>) => {
      if (full) {
        full = false;
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      }
      return failed(...args);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      queue.addChannel(ch);
      queue.post(alert('al_a'));
      await until('posted after the write failure', () => queue.length() === 0 && ch.calls.length === 2);
      await queue.idle();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(full).toBe(false);
    expect(unhandled).toEqual([]);
    expect(ch.calls.map((c) => c.op)).toEqual(['post', 'post']);
  });

  it('queues for expected channels before they attach and delivers in order once they do', async () => {
    const { queue } = setup({ expected: ['console', 'discord'] });
    const console = new RecordingChannel('console');
    queue.addChannel(console);
    const a = alert('al_a');
    queue.post(a);
    queue.reply(a, 'down: web');
    queue.update({ ...a, status: 'resolved' });
    await until('console done', () => console.calls.length === 3);
    expect(queue.channelNames().sort()).toEqual(['console', 'discord']);
    // Discord connects later: what was raised before is delivered there, in order.
    const discord = new RecordingChannel('discord');
    queue.addChannel(discord);
    await until('discord done', () => queue.length() === 0);
    expect(discord.calls.map((c) => c.op)).toEqual(['post', 'reply', 'update']);
    expect(discord.calls[1]!.ref).toEqual({ messageId: 'm1' });
  });

  it('drops a job that can never succeed (message gone) and forgets the ref; later jobs go out', async () => {
    const { queue, store, dropped } = setup();
    const ch = new RecordingChannel('c');
    queue.addChannel(ch);
    const a = alert('al_a');
    const b = alert('al_b');
    queue.post(a);
    await until('posted', () => ch.calls.length === 1);
    // Someone deleted the message: Discord answers 404 / 10008 Unknown Message.
    ch.hook = async (c) => {
      if (c.op === 'update') throw deliveryError('ALERT_DELIVERY_GONE', 'Unknown Message');
    };
    queue.update({ ...a, title: 'al_a is degraded' });
    queue.post(b);
    await until('b posted', () => ch.calls.some((c) => c.op === 'post' && c.text === b.title));
    await until('queue empty', () => queue.length() === 0);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.d.alertId).toBe('al_a');
    expect(store.ref('al_a', 'c')).toBeNull();
    // A later follow-up of the gone message is skipped, not retried forever.
    const before = ch.calls.length;
    queue.reply(a, 'recovered');
    await until('queue empty', () => queue.length() === 0);
    await queue.idle();
    expect(ch.calls.length).toBe(before);
  });

  it('a permanent coded error is given up; a retryable one (or an uncoded error) is retried', async () => {
    const { queue, dropped } = setup();
    const ch = new RecordingChannel('c');
    queue.addChannel(ch);
    const a = alert('al_a');
    let fails = 2;
    ch.hook = async (c) => {
      if (c.op === 'post' && fails-- > 0)
        throw fails === 1 ? deliveryError('ALERT_DELIVERY_RETRY', '503') : new Error('socket hang up');
      if (c.op === 'update') throw deliveryError('ALERT_DELIVERY_FAILED', 'not_in_channel');
    };
    queue.post(a);
    queue.update(a);
    await until('queue empty', () => queue.length() === 0);
    expect(ch.calls.filter((c) => c.op === 'post')).toHaveLength(3);
    expect(dropped.map((x) => x.d.op)).toEqual(['update']);
  });

  it('a notification channel (threaded: false) gets posts and edits, no replies, no incident children', async () => {
    const { queue } = setup();
    const ch = Object.assign(new RecordingChannel('webhook:x'), { threaded: false as const });
    const ids: string[] = [];
    ch.hook = async () => undefined;
    const post = ch.post.bind(ch);
    ch.post = async (a: AlertRecord, ctx?: DeliveryContext) => {
      ids.push(ctx!.deliveryId);
      return post(a);
    };
    queue.addChannel(ch);
    const storm = alert('al_storm', { kind: 'storm', site: null });
    queue.post(storm);
    queue.post(alert('al_child', { parentId: 'al_storm' }));
    queue.reply(storm, 'sites: a, b');
    queue.update({ ...storm, status: 'resolved' });
    await until('queue empty', () => queue.length() === 0);
    await queue.idle();
    expect(ch.calls.map((c) => `${c.op} ${c.text}`)).toEqual([
      'post al_storm is down',
      'update al_storm is down',
    ]);
    expect(ids[0]).toMatch(/^dl_[0-9a-z]+$/);
  });

  it('a post that answers after the attempt timed out is not posted a second time', async () => {
    const { queue, store } = setup({ attemptTimeoutMs: 30 });
    const ch = new RecordingChannel('c');
    queue.addChannel(ch);
    const slow = deferred();
    ch.hook = (c) => (c.op === 'post' ? slow.promise : Promise.resolve());
    const a = alert('al_a');
    queue.post(a);
    // The first attempt times out; retries come due while it is still under way.
    await until('timed out', () => (store.head('c')?.attempts ?? 0) >= 2);
    slow.resolve();
    await until('queue empty', () => queue.length() === 0);
    await queue.idle();
    expect(ch.calls.filter((c) => c.op === 'post')).toHaveLength(1);
    expect(store.ref('al_a', 'c')).toEqual({ messageId: 'm1' });
  });

  it('an attempt that timed out and then failed is sent afresh', async () => {
    const clock = new ManualClock();
    const { queue } = setup({ attemptTimeoutMs: 30, clock });
    const ch = new RecordingChannel('c');
    queue.addChannel(ch);
    const slow = deferred();
    let first = true;
    ch.hook = (c) => {
      if (c.op === 'post' && first) {
        first = false;
        return slow.promise;
      }
      return Promise.resolve();
    };
    queue.post(alert('al_a'));
    await until('first attempt under way', () => ch.calls.length === 1);
    // Past the attempt timeout and the first retry: the timed-out attempt is awaited, not repeated.
    await clock.advance(60);
    expect(ch.calls).toHaveLength(1);
    slow.reject(new Error('socket hang up'));
    await until('queue empty', () => queue.length() === 0);
    expect(ch.calls.filter((c) => c.op === 'post')).toHaveLength(2);
  });
});

describe('AlertDeliveryQueue on the clock port (no real waiting)', () => {
  it('a failed delivery is retried only when its backoff has passed on the clock, doubling each time', async () => {
    const clock = new ManualClock();
    const { queue, store } = setup({ clock, backoffMs: { initial: 1000, max: 300_000 } });
    const ch = new RecordingChannel('c');
    let fails = 2;
    ch.hook = async () => {
      if (fails-- > 0) throw deliveryError('ALERT_DELIVERY_RETRY', 'HTTP 503');
    };
    queue.addChannel(ch);
    queue.post(alert('al_a'));
    await queue.idle();
    expect(ch.calls).toHaveLength(1);
    await clock.advance(999);
    expect(ch.calls).toHaveLength(1);
    await clock.advance(1);
    await queue.idle();
    expect(ch.calls).toHaveLength(2);
    // Second failure: 2 s this time.
    await clock.advance(1999);
    expect(ch.calls).toHaveLength(2);
    await clock.advance(1);
    await queue.idle();
    expect(ch.calls).toHaveLength(3);
    expect(queue.length()).toBe(0);
    expect(store.head('c')).toBeNull();
  });

  it('an attempt that never answers times out and is given up on the clock; the next job goes out', async () => {
    const clock = new ManualClock();
    const { queue, dropped } = setup({ clock, attemptTimeoutMs: 30_000, giveUpAfterMs: 120_000 });
    const ch = new RecordingChannel('c');
    ch.hook = (c) => (c.text === 'al_a is down' ? new Promise<void>(() => undefined) : Promise.resolve());
    queue.addChannel(ch);
    queue.post(alert('al_a'));
    queue.post(alert('al_b'));
    await clock.advance(119_000);
    // Timed out and retried with backoff meanwhile, but never sent twice, and al_b still waits.
    expect(ch.calls.map((c) => c.text)).toEqual(['al_a is down']);
    expect(dropped).toHaveLength(0);
    await clock.advance(60_000);
    await queue.idle();
    expect(dropped.map((x) => x.d.alertId)).toEqual(['al_a']);
    expect(dropped[0]!.error).toMatch(/given up/);
    expect(ch.calls.map((c) => c.text)).toEqual(['al_a is down', 'al_b is down']);
  });
});

describe('classifyDeliveryError', () => {
  it('reads the code only: failed and gone are permanent, everything else is retried', () => {
    expect(classifyDeliveryError(deliveryError('ALERT_DELIVERY_GONE', 'x'))).toEqual({
      permanent: true,
      gone: true,
    });
    expect(classifyDeliveryError(deliveryError('ALERT_DELIVERY_FAILED', 'x'))).toEqual({
      permanent: true,
      gone: false,
    });
    expect(classifyDeliveryError(deliveryError('ALERT_DELIVERY_RETRY', 'x')).permanent).toBe(false);
    // A raw platform shape is no longer read here: the channel must code it.
    expect(classifyDeliveryError(Object.assign(new Error('x'), { status: 404, code: 10008 })).permanent).toBe(
      false,
    );
    expect(classifyDeliveryError(new Error('no answer')).permanent).toBe(false);
  });

  it('httpDeliveryCode: 2xx delivered, 4xx other than 408/429 failed, the rest retried', () => {
    expect(httpDeliveryCode(204)).toBeNull();
    expect(httpDeliveryCode(400)).toBe('ALERT_DELIVERY_FAILED');
    expect(httpDeliveryCode(410)).toBe('ALERT_DELIVERY_FAILED');
    expect(httpDeliveryCode(408)).toBe('ALERT_DELIVERY_RETRY');
    expect(httpDeliveryCode(429)).toBe('ALERT_DELIVERY_RETRY');
    expect(httpDeliveryCode(500)).toBe('ALERT_DELIVERY_RETRY');
    expect(httpDeliveryCode(302)).toBe('ALERT_DELIVERY_RETRY');
  });
});

describe('alertChannelNames', () => {
  it('names the channels the configuration asks for', () => {
    const cfg = {
      DISCORD_TOKEN: '',
      DISCORD_ALERT_CHANNEL_ID: '',
      SLACK_BOT_TOKEN: '',
      SLACK_ALERT_CHANNEL: '',
    };
    expect(alertChannelNames(cfg, true)).toEqual(['console']);
    expect(alertChannelNames({ ...cfg, DISCORD_TOKEN: 't' }, false)).toEqual([]);
    expect(
      alertChannelNames(
        {
          DISCORD_TOKEN: 't',
          DISCORD_ALERT_CHANNEL_ID: '1',
          SLACK_BOT_TOKEN: 'x',
          SLACK_ALERT_CHANNEL: 'C1',
        },
        true,
      ),
    ).toEqual(['console', 'discord', 'slack']);
  });

  it('an attempt that never answers is given up and reported; later jobs of the channel go out', async () => {
    const { queue, dropped } = setup({ attemptTimeoutMs: 20, giveUpAfterMs: 100 });
    const ch = new RecordingChannel('c');
    queue.addChannel(ch);
    const a = alert('al_a');
    queue.post(a);
    await until('posted', () => ch.calls.length === 1);
    ch.hook = (c) => (c.op === 'update' ? new Promise<void>(() => undefined) : Promise.resolve());
    queue.update(a);
    const b = alert('al_b');
    queue.post(b);
    await until('queue empty', () => queue.length() === 0, 5000);
    expect(ch.calls.map((c) => c.op)).toEqual(['post', 'update', 'post']);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.d.op).toBe('update');
    expect(dropped[0]!.error).toMatch(/given up/);
  });
});
