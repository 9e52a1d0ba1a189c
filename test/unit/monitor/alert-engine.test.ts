import { describe, expect, it } from 'vitest';
import type { ContainerEvent } from '../../../src/core/engine.js';
import {
  type AlertEffect,
  AlertEngine,
  type AlertSettings,
  CREATED_START_GRACE_MS,
  type ObservedContainer,
  type SiteObservation,
} from '../../../src/core/monitor.js';

class FakeClock {
  t = 1_000_000;
  now() {
    return this.t;
  }
}

function setup(settings: Partial<AlertSettings> = {}) {
  const clock = new FakeClock();
  let n = 0;
  const engine = new AlertEngine(clock, { reminderMs: 0, ...settings }, { newId: () => `al_${++n}` });
  const effects: AlertEffect[] = [];
  /** Drains the effects; the engine always answers probes (see the outage tests for when not). */
  let answer = true;
  const pump = () => {
    for (let round = 0; round < 10; round++) {
      const batch = engine.drain();
      if (!batch.length) return;
      effects.push(...batch);
      for (const e of batch)
        if (e.type === 'probe') engine.hostAnswered(e.host, answer, answer ? null : 'gone');
    }
  };
  const setAnswer = (v: boolean) => {
    answer = v;
  };
  const advance = (ms: number, step = 250) => {
    for (let left = ms; left > 0; left -= step) {
      clock.t += Math.min(step, left);
      engine.tick();
      pump();
    }
  };
  const posts = () => effects.filter((e) => e.type === 'alert' && e.post);
  const replies = () =>
    effects.filter((e) => e.type === 'alert' && e.reply).map((e) => (e as { reply: string }).reply);
  const changes = (c: string) => effects.filter((e) => e.type === 'alert' && e.change === c);
  return { clock, engine, effects, pump, advance, posts, replies, changes, setAnswer };
}

function c(
  name: string,
  status: ObservedContainer['status'],
  extra: Partial<ObservedContainer> = {},
): ObservedContainer {
  return {
    id: `id-${name}`,
    name,
    status,
    exitCode: status === 'down' ? 137 : null,
    restartPolicy: 'always',
    ...extra,
  };
}

function site(...containers: ObservedContainer[]): SiteObservation {
  const up = containers.filter((x) => x.status === 'up' || x.status === 'completed').length;
  const state =
    up === containers.length ? 'up' : containers.some((x) => x.status === 'up') ? 'degraded' : 'down';
  return { state, containers };
}

function die(name: string, project: string, exitCode = 1, at = 0): ContainerEvent {
  return {
    at,
    action: 'die',
    containerId: `id-${name}`,
    name,
    project,
    service: name,
    image: 'x',
    exitCode,
    health: null,
  };
}

describe('AlertEngine: site down and recovery', () => {
  it('alerts once when a site goes down and resolves once after the recovery threshold', () => {
    const h = setup({ recoverAfterMs: 5000 });
    h.engine.observeHost('local', true);
    h.engine.observeSite('local', 'blog', site(c('web', 'up')));
    h.pump();
    expect(h.posts()).toHaveLength(0);
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.pump();
    expect(h.posts()).toHaveLength(1);
    const opened = h.posts()[0] as Extract<AlertEffect, { type: 'alert' }>;
    expect(opened.alert.title).toBe('blog is down');
    expect(opened.alert.severity).toBe('critical');
    expect(h.replies().join('\n')).toContain('web (exit 137)');
    // Still down, another observation: no second alert.
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.advance(3000);
    expect(h.posts()).toHaveLength(1);
    h.engine.observeSite('local', 'blog', site(c('web', 'up')));
    h.advance(4000);
    expect(h.changes('resolved')).toHaveLength(0);
    h.advance(1500);
    expect(h.changes('resolved')).toHaveLength(1);
    expect(h.replies().at(-1)).toMatch(/blog recovered after/);
    expect(h.engine.openAlerts()).toHaveLength(0);
  });

  it('waits downAfterMs before alerting (a short blip does not alert)', () => {
    const h = setup({ downAfterMs: 2000 });
    h.engine.observeHost('local', true);
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.advance(1500);
    h.engine.observeSite('local', 'blog', site(c('web', 'up')));
    h.advance(5000);
    expect(h.posts()).toHaveLength(0);
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.advance(1750);
    expect(h.posts()).toHaveLength(0);
    h.advance(500);
    expect(h.posts()).toHaveLength(1);
  });

  it('a degraded site alerts as degraded, then escalates to down with an edit, not a second alert', () => {
    const h = setup();
    h.engine.observeHost('local', true);
    h.engine.observeSite('local', 'shop', site(c('web', 'up'), c('db', 'down')));
    h.pump();
    expect((h.posts()[0] as Extract<AlertEffect, { type: 'alert' }>).alert.title).toBe('shop is degraded');
    h.engine.observeSite('local', 'shop', site(c('web', 'down'), c('db', 'down')));
    h.pump();
    expect(h.posts()).toHaveLength(1);
    const edit = h.effects.filter((e) => e.type === 'alert' && e.edit).at(-1) as Extract<
      AlertEffect,
      { type: 'alert' }
    >;
    expect(edit.alert.title).toBe('shop is down');
    expect(h.replies().at(-1)).toContain('Now down');
    expect(h.replies().at(-1)).toContain('web');
  });

  it('a container just created and not yet started (compose up) is not judged until its start is due', () => {
    const h = setup();
    h.engine.observeHost('local', true);
    // `docker compose up` of a new site: created first, started a moment later.
    const created = c('web', 'down', { exitCode: null, createdNotStartedAt: h.clock.t });
    h.engine.observeSite('local', 'fresh', site(created));
    h.advance(2000);
    expect(h.posts()).toHaveLength(0);
    h.engine.observeSite('local', 'fresh', site(c('web', 'up')));
    h.advance(CREATED_START_GRACE_MS);
    expect(h.posts()).toHaveLength(0);
    // One that stays created (never started) is down once the grace has passed.
    h.engine.observeSite(
      'local',
      'stuck',
      site({ ...created, id: 'id-stuck', createdNotStartedAt: h.clock.t }),
    );
    h.advance(CREATED_START_GRACE_MS - 500);
    expect(h.posts()).toHaveLength(0);
    h.advance(1000);
    expect(h.posts()).toHaveLength(1);
    expect((h.posts()[0] as Extract<AlertEffect, { type: 'alert' }>).alert.title).toBe('stuck is down');
  });

  it('completed one-shot containers never alert', () => {
    const h = setup();
    h.engine.observeHost('local', true);
    const init = c('init', 'completed', { exitCode: 0, restartPolicy: 'no' });
    h.engine.containerEvent('local', die('init', 'app', 0));
    h.engine.observeSite('local', 'app', site(c('web', 'up'), init));
    for (let i = 0; i < 6; i++) h.engine.containerEvent('local', die('init', 'app', 0));
    h.advance(3000);
    expect(h.posts()).toHaveLength(0);
  });
});

describe('AlertEngine: flapping', () => {
  it('a container restarting in a loop gives one flapping alert, not one per restart', () => {
    const h = setup({ flapChanges: 4, flapWindowMs: 60_000 });
    h.engine.observeHost('local', true);
    for (let i = 0; i < 12; i++) {
      h.engine.containerEvent('local', die('worker', 'loop', 1, h.clock.t));
      h.engine.observeSite('local', 'loop', site(c('worker', 'down', { exitCode: 1 })));
      h.advance(300);
      h.engine.observeSite('local', 'loop', site(c('worker', 'up')));
      h.advance(300);
    }
    expect(h.posts()).toHaveLength(1);
    const open = h.engine.openAlerts();
    expect(open).toHaveLength(1);
    expect(open[0]!.title).toBe('loop is flapping');
    expect(h.replies().filter((r) => r.includes('Now flapping'))).toHaveLength(1);
    // It stays open while flapping even though the container is up between restarts.
    h.advance(10_000);
    expect(h.engine.openAlerts()).toHaveLength(1);
    // Calm for the whole window: resolves once.
    h.advance(60_000, 1000);
    expect(h.changes('resolved')).toHaveLength(1);
  });
});

describe('AlertEngine: die events replayed after a reconnect', () => {
  it('counts a die at the time Docker saw it, once: a replay does not make a site flap', () => {
    const h = setup({ flapChanges: 3, flapWindowMs: 60_000 });
    h.engine.observeHost('local', true);
    h.engine.observeSite('local', 'loop', site(c('worker', 'up')));
    const first = h.clock.t;
    h.engine.containerEvent('local', die('worker', 'loop', 1, first));
    h.advance(1000);
    const second = h.clock.t;
    h.engine.containerEvent('local', die('worker', 'loop', 1, second));
    h.advance(1000);
    // The event stream reconnects and Docker replays both: still two dies, no flapping.
    h.engine.containerEvent('local', die('worker', 'loop', 1, first));
    h.engine.containerEvent('local', die('worker', 'loop', 1, second));
    h.advance(1000);
    expect(h.engine.openAlerts()).toHaveLength(0);
    // Dies older than the window (replayed long after) do not count either.
    h.advance(120_000, 1000);
    for (let i = 0; i < 5; i++) h.engine.containerEvent('local', die('worker', 'loop', 1, first + i));
    h.advance(1000);
    expect(h.engine.openAlerts()).toHaveLength(0);
    expect(h.posts()).toHaveLength(0);
    // A third real die within the window does.
    h.engine.containerEvent('local', die('worker', 'loop', 1, h.clock.t));
    h.advance(500);
    h.engine.containerEvent('local', die('worker', 'loop', 1, h.clock.t));
    h.advance(500);
    h.engine.containerEvent('local', die('worker', 'loop', 1, h.clock.t));
    h.advance(500);
    expect(h.engine.openAlerts().map((a) => a.title)).toEqual(['loop is flapping']);
  });
});

describe('AlertEngine: removed sites', () => {
  it('forgets a removed site once nothing is left to judge', () => {
    const h = setup({ flapWindowMs: 10_000 });
    const tracked = () => (h.engine as unknown as { sites: Map<string, unknown> }).sites.size;
    h.engine.observeHost('local', true);
    for (let i = 0; i < 20; i++) h.engine.observeSite('local', `s${i}`, site(c(`w${i}`, 'up')));
    expect(tracked()).toBe(20);
    // A container of s0 died just before the site was removed: kept while the die is recent.
    h.engine.containerEvent('local', die('w0', 's0', 1, h.clock.t));
    for (let i = 0; i < 20; i++) h.engine.observeSite('local', `s${i}`, null);
    h.advance(1000);
    expect(tracked()).toBe(1);
    h.advance(15_000, 1000);
    expect(tracked()).toBe(0);
  });
});

describe('AlertEngine: intents (SiteFlow restarts a site)', () => {
  it('notes events into the operation and never alerts while it runs and within the grace', () => {
    const h = setup({ actionGraceMs: 10_000 });
    h.engine.observeHost('local', true);
    h.engine.observeSite('local', 'blog', site(c('web', 'up')));
    h.engine.intentStarted({
      operationId: 'op_1',
      host: 'local',
      site: 'blog',
      kind: 'restart',
      actor: 'alice',
      startedAt: h.clock.t,
    });
    h.engine.containerEvent('local', { ...die('web', 'blog', 143), action: 'kill', signal: 'SIGTERM' });
    h.engine.containerEvent('local', { ...die('web', 'blog', 143), action: 'kill', signal: 'SIGKILL' });
    h.engine.containerEvent('local', die('web', 'blog', 143));
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.advance(2000);
    h.engine.containerEvent('local', { ...die('web', 'blog'), action: 'start', exitCode: null });
    h.engine.observeSite('local', 'blog', site(c('web', 'up')));
    h.engine.intentEnded('op_1');
    h.advance(20_000);
    expect(h.posts()).toHaveLength(0);
    const notes = h.effects.filter((e) => e.type === 'note') as Array<Extract<AlertEffect, { type: 'note' }>>;
    expect(notes.map((n) => n.text)).toEqual([
      'expected: web killed (SIGTERM): restart by @alice',
      'expected: web killed (SIGKILL): restart by @alice',
      'expected: web exited (code 143): restart by @alice',
      'expected: web started: restart by @alice',
    ]);
    expect(notes.every((n) => n.operationId === 'op_1')).toBe(true);
  });

  it('alerts when the site is still bad after the action window (end + grace)', () => {
    const h = setup({ actionGraceMs: 10_000 });
    h.engine.observeHost('local', true);
    h.engine.intentStarted({
      operationId: 'op_2',
      host: 'local',
      site: 'blog',
      kind: 'pull',
      actor: 'bob',
      startedAt: h.clock.t,
    });
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.advance(5000);
    h.engine.intentEnded('op_2');
    h.advance(9000);
    expect(h.posts()).toHaveLength(0);
    h.advance(1500);
    expect(h.posts()).toHaveLength(1);
  });
});

describe('AlertEngine: storms and host outages', () => {
  it('many sites of one host going bad at once post one incident with the sites as its children', () => {
    const h = setup({ stormThreshold: 3, stormWindowMs: 10_000, groupWaitMs: 1000 });
    h.engine.observeHost('local', true);
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const n of names) h.engine.observeSite('local', n, site(c(`${n}-web`, 'up')));
    for (const n of names) {
      h.engine.observeSite('local', n, site(c(`${n}-web`, 'down')));
      h.pump(); // the engine answers the probe at once, as a live one does
    }
    h.advance(2000);
    const top = h.posts().filter((e) => e.type === 'alert' && !e.alert.parentId) as Array<
      Extract<AlertEffect, { type: 'alert' }>
    >;
    // The first site is reported at once (no one knows yet that a storm comes), the rest in one incident.
    expect(top.map((e) => e.alert.kind)).toEqual(['site', 'storm']);
    const storm = top[1]!.alert;
    const children = h.posts().filter((e) => e.type === 'alert' && e.alert.parentId === storm.id);
    expect(children).toHaveLength(5);
    // Recovery: one message for the incident, none per child.
    for (const n of names) h.engine.observeSite('local', n, site(c(`${n}-web`, 'up')));
    const before = h.replies().length;
    h.advance(6000);
    const newReplies = h.replies().slice(before);
    expect(newReplies.filter((r) => r.startsWith('All sites of this incident recovered'))).toHaveLength(1);
    expect(newReplies.filter((r) => / recovered after/.test(r) && !r.startsWith('All'))).toHaveLength(1); // site a
    expect(h.engine.openAlerts()).toHaveLength(0);
  });

  it('containers stopped by an engine that then stops answering give the host incident, not site alerts', () => {
    const h = setup({ hostDownAfterMs: 3000 });
    h.engine.observeHost('d2', true);
    h.engine.observeSite('d2', 's1', site(c('x', 'up')));
    h.pump();
    h.setAnswer(false); // dockerd is shutting down: it stopped its containers and closed its socket
    h.engine.observeSite('d2', 's1', site(c('x', 'down', { exitCode: 143 })));
    h.pump();
    expect(h.posts()).toHaveLength(0);
    h.advance(4000);
    expect(h.posts().map((e) => e.type === 'alert' && e.alert.kind)).toEqual(['host']);
  });

  it('a site alert posted just before the engine stopped answering is turned into the host incident', () => {
    const h = setup({ hostDownAfterMs: 2000 });
    h.engine.observeHost('d2', true);
    h.engine.observeSite('d2', 's1', site(c('x', 'up')));
    h.engine.observeSite('d2', 's1', site(c('x', 'down', { exitCode: 143 })));
    h.pump();
    const siteAlert = (h.posts()[0] as Extract<AlertEffect, { type: 'alert' }>).alert;
    h.advance(1000);
    h.engine.observeHost('d2', false, 'ECONNRESET');
    h.advance(3000);
    const host = h.posts()[1] as Extract<AlertEffect, { type: 'alert' }>;
    expect(host.alert.kind).toBe('host');
    expect(host.takeOver).toBe(siteAlert.id);
    h.engine.observeHost('d2', true);
    h.engine.observeSite('d2', 's1', site(c('x', 'up')));
    h.advance(5000);
    const resolved = h.changes('resolved') as Array<Extract<AlertEffect, { type: 'alert' }>>;
    expect(resolved.map((e) => e.alert.kind).sort()).toEqual(['host', 'site']);
    // One recovery message (the host's); the site alert taken into it ends quietly.
    expect(resolved.filter((e) => e.reply || e.edit).map((e) => e.alert.kind)).toEqual(['host']);
    expect(h.engine.openAlerts()).toHaveLength(0);
  });

  it('an unreachable engine opens one host incident and recovers with one message; sites stay quiet', () => {
    const h = setup({ hostDownAfterMs: 3000 });
    h.engine.observeHost('d2', true);
    h.engine.observeSite('d2', 's1', site(c('x', 'up')));
    h.engine.observeSite('d2', 's2', site(c('y', 'up')));
    h.engine.observeHost('d2', false, 'connect ENOENT');
    // Stale observations while unreachable are not judged.
    h.engine.observeSite('d2', 's1', site(c('x', 'down')));
    h.advance(2000);
    expect(h.posts()).toHaveLength(0);
    h.advance(1500);
    expect(h.posts()).toHaveLength(1);
    const a = (h.posts()[0] as Extract<AlertEffect, { type: 'alert' }>).alert;
    expect(a.kind).toBe('host');
    expect(a.title).toBe('Host d2 is unreachable');
    expect(h.replies().join('\n')).toMatch(/s1, s2/);
    h.advance(60_000, 1000);
    expect(h.posts()).toHaveLength(1);
    h.engine.observeHost('d2', true);
    h.engine.observeSite('d2', 's1', site(c('x', 'up')));
    h.advance(5000);
    expect(h.changes('resolved')).toHaveLength(1);
    expect(h.replies().at(-1)).toMatch(/Host d2 answers again/);
    expect(h.posts()).toHaveLength(1);
  });
});

describe('AlertEngine: silences, reminders, acks, restarts, backups', () => {
  it('a silenced change is recorded, not posted; the end of the silence re-enables alerts', () => {
    const h = setup();
    h.engine.observeHost('local', true);
    h.engine.setSilences([
      { id: 's', host: 'local', site: 'blog', until: h.clock.t + 10_000, by: 'bob', reason: null },
    ]);
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.pump();
    expect(h.changes('opened')).toHaveLength(1);
    expect(h.posts()).toHaveLength(0);
    const opened = h.changes('opened')[0] as Extract<AlertEffect, { type: 'alert' }>;
    expect(opened.alert.silenced).toBe(true);
    h.engine.observeSite('local', 'blog', site(c('web', 'up')));
    h.advance(6000);
    expect(h.changes('resolved')).toHaveLength(1);
    expect(h.replies()).toHaveLength(0);
    h.advance(5000); // silence over
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.pump();
    expect(h.posts()).toHaveLength(1);
  });

  it('an alert still open when its silence ends is announced then', () => {
    const h = setup();
    h.engine.observeHost('local', true);
    h.engine.setSilences([
      { id: 's', host: 'local', site: null, until: h.clock.t + 5000, by: 'bob', reason: null },
    ]);
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.advance(4000);
    expect(h.posts()).toHaveLength(0);
    h.advance(1500);
    expect(h.posts()).toHaveLength(1);
  });

  it('reminds while open until acknowledged', () => {
    const h = setup({ reminderMs: 60_000 });
    h.engine.observeHost('local', true);
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.advance(61_000, 1000);
    expect(h.replies().filter((r) => r.startsWith('Reminder'))).toHaveLength(1);
    const id = h.engine.openAlerts()[0]!.id;
    expect(h.engine.ack(id, 'carol')?.ackedBy).toBe('carol');
    h.advance(200_000, 1000);
    expect(h.replies().filter((r) => r.startsWith('Reminder'))).toHaveLength(1);
    expect(h.replies()).toContain('Acknowledged by carol.');
  });

  it('after a restart, a restored open alert is not announced again and still resolves', () => {
    const first = setup();
    first.engine.observeHost('local', true);
    first.engine.observeSite('local', 'blog', site(c('web', 'down')));
    first.pump();
    const stored = first.engine.openAlerts();
    const h = setup();
    h.engine.restore(stored);
    h.engine.observeHost('local', true);
    h.engine.observeSite('local', 'blog', site(c('web', 'down')));
    h.advance(2000);
    expect(h.posts()).toHaveLength(0);
    expect(h.replies()).toHaveLength(0);
    h.engine.observeSite('local', 'blog', site(c('web', 'up')));
    h.advance(6000);
    const resolved = h.changes('resolved');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.type === 'alert' && resolved[0]!.alert.id).toBe(stored[0]!.id);
  });

  it('backup stale alerts, fresh resolves', () => {
    const h = setup();
    h.engine.backupChanged('local', 'blog', 'stale', 'newest is 3 days old');
    h.engine.backupChanged('local', 'blog', 'stale', 'newest is 3 days old');
    h.pump();
    expect(h.posts()).toHaveLength(1);
    h.engine.backupChanged('local', 'blog', 'missing');
    h.pump();
    expect(h.posts()).toHaveLength(1);
    expect(h.engine.openAlerts()[0]!.title).toBe('blog backup is missing');
    h.engine.backupChanged('local', 'blog', 'fresh');
    h.pump();
    expect(h.changes('resolved')).toHaveLength(1);
  });
});

describe('AlertEngine: notices', () => {
  it('posts a notice once, never reminds, and answers a repeat of its key in its thread', () => {
    const h = setup({ reminderMs: 60_000 });
    const a = h.engine.notice({
      key: 'notice:x',
      host: 'local',
      site: 'blog',
      title: 'Pull failed',
      lines: ['l1'],
    });
    h.pump();
    expect(a.kind).toBe('notice');
    expect(h.posts()).toHaveLength(1);
    h.advance(5 * 60_000, 10_000);
    expect(h.replies()).toEqual([]);
    h.engine.notice({
      key: 'notice:x',
      host: 'local',
      site: 'blog',
      title: 'Pull failed again',
      lines: ['l2'],
    });
    h.pump();
    expect(h.posts()).toHaveLength(1);
    expect(h.replies()).toEqual(['Pull failed again\nl2']);
  });
});

describe('AlertEngine: sites stopped on purpose', () => {
  it('a stopped site going down is not alerted on; once it is no longer marked, it is', () => {
    const h = setup();
    h.engine.observeHost('local', true);
    h.engine.observeSite('local', 'blog', { state: 'up', containers: [c('web', 'up')] });
    h.advance(1000);
    h.engine.setStopped('local', 'blog', 'ann');
    h.engine.observeSite('local', 'blog', { state: 'down', containers: [c('web', 'down')] });
    h.advance(10_000);
    expect(h.posts()).toHaveLength(0);
    h.engine.setStopped('local', 'blog', null);
    h.advance(10_000);
    expect(h.posts()).toHaveLength(1);
  });
});
