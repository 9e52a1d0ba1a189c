/**
 * The Monitor on a manual clock with a hand-written event seam and channel: its rule clock
 * (down-after) runs only as the clock advances, and `settled()` resolves only once an event's
 * inspect is in the state, the rules judged it, the host probe answered and the alert's delivery
 * was attempted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertChannel, AlertRecord, AlertRef } from '../../../src/core/alerts.js';
import type { ContainerEvent, ContainerInfo, SiteInfo } from '../../../src/core/engine.js';
import { LiveState } from '../../../src/core/live-state.js';
import type { Logger } from '../../../src/core/ports.js';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { SqliteAlertStore } from '../../../src/db/sqlite-alert-store.js';
import { siteState } from '../../../src/docker/status.js';
import { Monitor } from '../../../src/monitor/monitor.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryAuditStore } from '../fakes/memory-audit-store.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

const container = (running: boolean): ContainerInfo => ({
  id: 'c1',
  name: 'blog-web-1',
  service: 'web',
  project: 'blog',
  state: running ? 'running' : 'exited',
  health: null,
  exitCode: running ? null : 137,
  restartCount: 0,
  restartPolicy: 'always',
  image: 'img:1',
  imageId: 'sha256:0',
  digest: null,
  createdAt: 0,
  startedAt: 1,
  finishedAt: null,
  ports: [],
  labels: {},
  status: running ? 'up' : 'down',
});
const site = (running: boolean): SiteInfo => ({
  host: 'local',
  name: 'blog',
  projectDir: null,
  composeFiles: [],
  containers: [container(running)],
  state: running ? 'up' : 'down',
});

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

let db: OpenDatabase | null = null;
let monitor: Monitor | null = null;
afterEach(() => {
  monitor?.stop();
  db?.close();
  db = monitor = null;
});

function setup() {
  const clock = new ManualClock();
  db = openDatabase(':memory:');
  const state = new LiveState({ hosts: ['local'], siteState, clock });
  state.replaceHostSites('local', [site(true)]);
  // The reconciler's seam: an event is handed on, then "inspected" when the test says so.
  const listeners = new Set<(h: string, e: ContainerEvent) => void>();
  const inspects = new Set<Promise<void>>();
  const reconciler = {
    onContainerEvent(l: (h: string, e: ContainerEvent) => void) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    refreshAll: async () => undefined,
    inspected: async () => {
      while (inspects.size) await Promise.all([...inspects]);
    },
    inspecting: () => inspects.size > 0,
  };
  const emitDie = (inspected: Promise<void>) => {
    const ev: ContainerEvent = {
      at: clock.now(),
      action: 'die',
      containerId: 'c1',
      name: 'blog-web-1',
      project: 'blog',
      service: 'web',
      image: 'img:1',
      exitCode: 137,
      health: null,
    };
    for (const l of listeners) l('local', ev);
    const p = inspected.then(() => state.replaceHostSites('local', [site(false)]));
    inspects.add(p);
    void p.finally(() => inspects.delete(p));
  };
  const posted: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  const channel: AlertChannel = {
    name: 'console',
    async post(a: AlertRecord): Promise<AlertRef> {
      await gate;
      posted.push(a.title);
      return { messageId: `m${posted.length}` };
    },
    async reply() {},
    async update() {},
  };
  monitor = new Monitor({
    state,
    reconciler,
    runner: { active: () => [], note: () => false },
    hub: { onAny: () => () => undefined },
    store: new SqliteAlertStore(db.db),
    audit: new MemoryAuditStore(),
    clock,
    logger: quiet,
    hostNames: () => ['local'],
    settings: { downAfterMs: 2000, recoverAfterMs: 1000, reminderMs: 0, groupWaitMs: 0 },
    channels: ['console'],
  });
  monitor.addChannel(channel);
  monitor.start();
  return {
    clock,
    monitor,
    emitDie,
    posted,
    setGate: (p: Promise<void>) => {
      gate = p;
    },
  };
}

describe('Monitor on the clock port', () => {
  it('a site down alerts only once down-after has passed on the clock', async () => {
    const { clock, monitor, emitDie, posted } = setup();
    emitDie(Promise.resolve());
    await monitor.settled();
    expect(posted).toEqual([]);
    await clock.advance(1750);
    await monitor.settled();
    expect(posted).toEqual([]);
    await clock.advance(500);
    await monitor.settled();
    expect(posted).toEqual(['blog is down']);
  });

  it('settled() waits for the inspect of an event, and for the delivery of the alert it leads to', async () => {
    const { clock, monitor, emitDie, posted, setGate } = setup();
    const inspect = deferred();
    emitDie(inspect.promise);
    let done = false;
    const first = monitor.settled().then(() => {
      done = true;
    });
    await clock.advance(0);
    expect(done).toBe(false); // the inspect is still under way
    inspect.resolve();
    await first; // the state knows, the rules judged: not down long enough yet
    expect(posted).toEqual([]);

    const delivery = deferred();
    setGate(delivery.promise);
    await clock.advance(2250); // the rule clock opens the alert; its post is under way
    done = false;
    const second = monitor.settled().then(() => {
      done = true;
    });
    await clock.advance(0);
    expect(done).toBe(false);
    expect(posted).toEqual([]);
    delivery.resolve();
    await second;
    expect(posted).toEqual(['blog is down']);
  });
});
