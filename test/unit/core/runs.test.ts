import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputHub } from '../../../src/core/hub.js';
import { isOperationId } from '../../../src/core/operation-id.js';
import type { Actor, Logger, RunLog } from '../../../src/core/ports.js';
import type { RunEvent } from '../../../src/core/run-events.js';
import {
  type ActionDef,
  type ActionIO,
  ActionRunner,
  type ActionRunnerDeps,
  type ActionRunnerOptions,
} from '../../../src/core/runs.js';
import { FileRunLog } from '../../../src/runs/file-run-log.js';
import { MemoryAuditStore } from '../fakes/memory-audit-store.js';
import { MemoryOperationStore } from '../fakes/memory-operation-store.js';
import { MemoryRunLog } from '../fakes/memory-run-log.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const alice: Actor = { platform: 'discord', id: 'u-alice', name: 'alice' };
const bob: Actor = { platform: 'discord', id: 'u-bob', name: 'bob' };

/** A manual clock: time moves only when the test says so. */
class ManualClock {
  t = Date.UTC(2026, 0, 15, 10, 0, 0);
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

/** A promise the test resolves by hand. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves when the signal aborts. */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r())));

function setup(
  opts: ActionRunnerOptions & { runLog?: RunLog } & Pick<ActionRunnerDeps, 'masker' | 'beforeRun'> = {},
) {
  const clock = new ManualClock();
  const operations = new MemoryOperationStore();
  const audit = new MemoryAuditStore();
  const runLog = new MemoryRunLog();
  const hub = new OutputHub({ bufferSize: 100, queueSize: 100 });
  const runner = new ActionRunner({
    operations,
    audit,
    runLog: opts.runLog ?? runLog,
    hub,
    clock,
    logger: silent,
    ...opts,
  });
  return { clock, operations, audit, runLog, hub, runner };
}

function action(over: Partial<ActionDef> & Pick<ActionDef, 'run'>): ActionDef {
  return {
    kind: 'restart',
    host: 'local',
    site: 'blog',
    mutates: true,
    timeoutMs: 10_000,
    args: {},
    ...over,
  };
}

async function collect(it: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

function started<T, E>(r: { ok: true; value: T } | { ok: false; error: E }): T {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

describe('ActionRunner', () => {
  it('records a successful run: operation row, log, output tail, audit entry and events', async () => {
    const { runner, operations, audit, runLog, clock } = setup();
    const op = started(
      runner.start(
        action({
          args: { service: 'web' },
          run: async (io) => {
            io.line('pulling\nrecreating web\r\n');
            io.progress('web', 'starting');
            io.progress('web', 'started');
            io.line('warning: slow', 'stderr');
            clock.advance(1500);
            return { exitCode: 0 };
          },
        }),
        { actor: alice, output: { platform: 'discord', channelId: 'c1', threadId: 't1' } },
      ),
    );
    expect(isOperationId(op.id)).toBe(true);
    expect(op.status).toBe('running');
    const events = collect(runner.events(op.id));
    const final = (await runner.wait(op.id))!;

    expect(final).toMatchObject({ status: 'succeeded', exitCode: 0, error: null });
    expect(final.finishedAt! - final.startedAt!).toBe(1500);
    expect(operations.history.get(op.id)).toEqual(['queued', 'running', 'succeeded']);
    expect(operations.get(op.id)!.output).toEqual({ platform: 'discord', channelId: 'c1', threadId: 't1' });
    expect(final.outputTail).toBe('pulling\nrecreating web\nweb: started\nwarning: slow');
    expect(runLog.lines(final.logPath)).toEqual([
      'pulling',
      'recreating web',
      'web: starting',
      'web: started',
      'warning: slow',
    ]);
    expect(runLog.logs.get(final.logPath!)!.closed).toBe(true);
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({
      action: 'restart',
      actor: alice,
      host: 'local',
      site: 'blog',
      outcome: 'ok',
      durationMs: 1500,
      operationId: op.id,
      details: { args: { service: 'web' } },
    });
    const evs = await events;
    expect(evs.map((e) => e.type)).toEqual(['line', 'line', 'progress', 'line', 'end']);
    expect(evs.at(-1)).toMatchObject({ type: 'end', status: 'succeeded', exitCode: 0, durationMs: 1500 });
  });

  it('coalesces progress to one update per second per key in the log and the stream, keeping the final sizes', async () => {
    const { runner, runLog, clock } = setup();
    const op = started(
      runner.start(
        action({
          run: async (io) => {
            for (let kb = 100; kb <= 5000; kb += 100) {
              io.progress('img:1', `${kb} KB`);
              io.progress('img:2', `${kb / 10} KB`);
              clock.advance(50); // 20 updates a second per key
            }
            return { exitCode: 0 };
          },
        }),
        { actor: alice },
      ),
    );
    const final = (await runner.wait(op.id))!;
    const lines = runLog.lines(final.logPath);
    const of = (key: string) => lines.filter((l) => l.startsWith(`${key}: `));
    // 50 updates over 2.5 s: at most one per second published, plus the held final state.
    expect(of('img:1').length).toBeLessThanOrEqual(4);
    expect(of('img:1')[0]).toBe('img:1: 100 KB');
    expect(of('img:1').at(-1)).toBe('img:1: 5000 KB');
    expect(of('img:2').at(-1)).toBe('img:2: 500 KB');
    expect(final.outputTail).toContain('img:1: 5000 KB');
  });

  it('caps read-only runs: beyond the limit they are refused, and a slot frees when one ends', async () => {
    const { runner } = setup({ maxConcurrentReads: 2 });
    const gates = [deferred(), deferred()];
    const reads = gates.map((g) =>
      started(runner.start(action({ kind: 'logs', mutates: false, run: () => g.promise }), { actor: bob })),
    );
    const third = runner.start(action({ kind: 'logs', mutates: false, run: async () => {} }), { actor: bob });
    expect(third.ok).toBe(false);
    if (!third.ok) expect(third.error.code).toBe('too_many_reads');
    // Mutating runs are not held back by read-only ones.
    const restart = started(runner.start(action({ run: async () => {} }), { actor: alice }));
    expect((await runner.wait(restart.id))!.status).toBe('succeeded');
    gates[0]!.resolve();
    await runner.wait(reads[0]!.id);
    const fourth = runner.start(action({ kind: 'logs', mutates: false, run: async () => {} }), {
      actor: bob,
    });
    expect(fourth.ok).toBe(true);
    gates[1]!.resolve();
  });

  it('is single-flight per site for mutating actions; read-only actions and other sites still run', async () => {
    const { runner } = setup();
    const gate = deferred();
    const first = started(runner.start(action({ run: () => gate.promise }), { actor: alice }));

    const second = runner.start(action({ kind: 'pull', run: async () => {} }), { actor: bob });
    expect(second.ok).toBe(false);
    if (!second.ok) {
      expect(second.error).toMatchObject({
        code: 'busy',
        operationId: first.id,
        kind: 'restart',
        actor: alice,
        status: 'running',
        since: first.startedAt,
      });
      expect(second.error.message).toContain('restart by alice');
    }

    const readOnly = started(
      runner.start(action({ kind: 'logs', mutates: false, run: async (io) => io.line('log line') }), {
        actor: bob,
      }),
    );
    expect((await runner.wait(readOnly.id))!.status).toBe('succeeded');

    const otherSite = started(runner.start(action({ site: 'shop', run: async () => {} }), { actor: bob }));
    expect((await runner.wait(otherSite.id))!.status).toBe('succeeded');
    expect(runner.start(action({ run: async () => {} }), { actor: bob }).ok).toBe(false);

    gate.resolve();
    expect((await runner.wait(first.id))!.status).toBe('succeeded');
    const again = started(runner.start(action({ run: async () => {} }), { actor: bob }));
    expect((await runner.wait(again.id))!.status).toBe('succeeded');
  });

  it('queues mutating runs beyond the concurrency cap and starts them in order', async () => {
    const { runner, operations } = setup({ maxConcurrent: 1 });
    const gateA = deferred();
    const gateB = deferred();
    const a = started(runner.start(action({ site: 'a', run: () => gateA.promise }), { actor: alice }));
    const b = started(runner.start(action({ site: 'b', run: () => gateB.promise }), { actor: alice }));
    const c = started(runner.start(action({ site: 'c', run: async () => {} }), { actor: bob }));
    expect(a.status).toBe('running');
    expect(b.status).toBe('queued');
    expect(runner.active().map((r) => [r.operation.id, r.queuePosition])).toEqual([
      [a.id, null],
      [b.id, 1],
      [c.id, 2],
    ]);
    // A queued run holds its site: a second restart of b is refused, naming the queued one.
    const dup = runner.start(action({ site: 'b', run: async () => {} }), { actor: bob });
    expect(!dup.ok && dup.error.code === 'busy' && dup.error.operationId).toBe(b.id);
    // Read-only actions are not held by the cap.
    const ro = started(
      runner.start(action({ mutates: false, site: 'b', run: async () => {} }), { actor: bob }),
    );
    expect((await runner.wait(ro.id))!.status).toBe('succeeded');

    const bEvents = collect(runner.events(b.id));
    gateA.resolve();
    await runner.wait(a.id);
    await new Promise((r) => setTimeout(r, 5));
    expect(operations.get(b.id)!.status).toBe('running');
    expect(operations.get(c.id)!.status).toBe('queued');
    gateB.resolve();
    expect((await runner.wait(c.id))!.status).toBe('succeeded');
    expect(operations.history.get(b.id)).toEqual(['queued', 'running', 'succeeded']);
    const first = (await bEvents)[0];
    expect(first).toMatchObject({ type: 'line', stream: 'info' });
    expect((first as { text: string }).text).toContain('Waiting for a free slot');
  });

  it('times out: status timed_out, the signal aborts, the lock is freed and the log is complete', async () => {
    const { runner, runLog, audit } = setup();
    let signalSeen = false;
    const op = started(
      runner.start(
        action({
          timeoutMs: 30,
          run: async (io) => {
            io.line('step 1');
            await aborted(io.signal);
            signalSeen = true;
            io.line('cleaning up');
            throw io.signal.reason;
          },
        }),
        { actor: alice },
      ),
    );
    const final = (await runner.wait(op.id))!;
    expect(signalSeen).toBe(true);
    expect(final).toMatchObject({ status: 'timed_out', error: 'timed out after 30 ms', exitCode: null });
    expect(runLog.lines(final.logPath)).toEqual([
      'step 1',
      '# Timed out after 30 ms; stopping…',
      'cleaning up',
    ]);
    expect(runLog.logs.get(final.logPath!)!.closed).toBe(true);
    expect(audit.entries.at(-1)).toMatchObject({ outcome: 'timed_out', operationId: op.id });
    expect(runner.start(action({ run: async () => {} }), { actor: bob }).ok).toBe(true);
  });

  it('marks an action that ignores its signal finished after the grace period and frees the lock', async () => {
    const { runner, runLog } = setup({ abortGraceMs: 20 });
    const stuck = deferred();
    let lateIo: ActionIO | null = null;
    const op = started(
      runner.start(
        action({
          timeoutMs: 10,
          run: async (io) => {
            lateIo = io;
            await stuck.promise; // never looks at io.signal
          },
        }),
        { actor: alice },
      ),
    );
    const final = (await runner.wait(op.id))!;
    expect(final.status).toBe('timed_out');
    expect(runLog.lines(final.logPath).at(-1)).toContain('did not stop within 20 ms');
    expect(runner.active()).toEqual([]);
    expect(runner.start(action({ run: async () => {} }), { actor: bob }).ok).toBe(true);
    // Output after the run was closed is dropped (the memory log would throw on a late write).
    lateIo!.line('too late');
    stuck.resolve();
    await new Promise((r) => setTimeout(r, 5));
    expect(runLog.lines(final.logPath)).not.toContain('too late');
  });

  it("an action's own abortGraceMs keeps its undo output and the lock until the undo is done", async () => {
    const { runner, runLog } = setup({ abortGraceMs: 20 });
    const undoDone = deferred();
    const undoStarted = deferred();
    const op = started(
      runner.start(
        action({
          abortGraceMs: 60_000,
          run: async (io) => {
            await aborted(io.signal);
            io.line('undoing', 'info');
            undoStarted.resolve();
            await undoDone.promise; // a long `compose down -v`, which ignores the signal
            io.line('undone: removed the containers', 'info');
            throw new Error('provision failed; undid 1 step(s)');
          },
        }),
        { actor: alice },
      ),
    );
    expect(runner.cancel(op.id, alice, false).ok).toBe(true);
    await undoStarted.promise;
    // Well past the runner's 20 ms default: the run is still running and still holds the site.
    await new Promise((r) => setTimeout(r, 100));
    expect(runner.active().map((a) => a.operation.id)).toEqual([op.id]);
    expect(runner.start(action({ run: async () => {} }), { actor: bob })).toMatchObject({
      ok: false,
      error: { code: 'busy' },
    });
    undoDone.resolve();
    const final = (await runner.wait(op.id))!;
    expect(final.status).toBe('cancelled');
    const lines = runLog.lines(final.logPath);
    expect(lines).toContain('# undone: removed the containers');
    expect(lines.join('\n')).not.toContain('did not stop within');
  });

  it('shutdown waits for an aborted action for its own abortGraceMs', async () => {
    const { runner, runLog, operations } = setup({ abortGraceMs: 20 });
    const undoDone = deferred();
    const undoStarted = deferred();
    const op = started(
      runner.start(
        action({
          abortGraceMs: 60_000,
          run: async (io) => {
            await aborted(io.signal);
            undoStarted.resolve();
            await undoDone.promise;
            io.line('undone: removed the folder', 'info');
            return { exitCode: 1 };
          },
        }),
        { actor: alice },
      ),
    );
    let shutDown = false;
    const stopping = runner.shutdown(0).then((r) => {
      shutDown = true;
      return r;
    });
    await undoStarted.promise;
    await new Promise((r) => setTimeout(r, 100));
    expect(shutDown).toBe(false);
    undoDone.resolve();
    expect(await stopping).toEqual({ finished: 0, cancelled: 1 });
    expect(operations.get(op.id)).toMatchObject({ status: 'cancelled', error: 'SiteFlow shut down' });
    expect(runLog.lines(operations.get(op.id)!.logPath)).toContain('# undone: removed the folder');
  });

  it('cancels: owner yes, someone else no, an admin yes; queued runs end at once', async () => {
    const { runner, audit, operations } = setup({ maxConcurrent: 1 });
    const respectful = (io: ActionIO) => aborted(io.signal).then(() => ({ exitCode: 137 }));
    const a = started(runner.start(action({ site: 'a', run: respectful }), { actor: alice }));
    const b = started(runner.start(action({ site: 'b', run: respectful }), { actor: alice }));
    expect(b.status).toBe('queued');

    const refused = runner.cancel(a.id, bob, false);
    expect(refused).toMatchObject({ ok: false, error: { code: 'not_yours', owner: alice } });
    expect(operations.get(a.id)!.status).toBe('running');

    // Cancelling the queued one does not start it.
    expect(runner.cancel(b.id, alice, false).ok).toBe(true);
    const bFinal = (await runner.wait(b.id))!;
    expect(bFinal).toMatchObject({ status: 'cancelled', startedAt: null, error: 'cancelled by alice' });
    expect(operations.history.get(b.id)).toEqual(['queued', 'cancelled']);

    expect(runner.cancel(a.id, bob, true).ok).toBe(true);
    const aFinal = (await runner.wait(a.id))!;
    expect(aFinal).toMatchObject({ status: 'cancelled', error: 'cancelled by bob', exitCode: 137 });
    expect(audit.entries.find((e) => e.operationId === a.id)).toMatchObject({
      outcome: 'cancelled',
      actor: alice,
      details: { cancelledBy: bob },
    });

    expect(runner.cancel(a.id, alice, false)).toMatchObject({
      ok: false,
      error: { code: 'already_finished', status: 'cancelled' },
    });
    expect(runner.cancel('op_nothing', alice, true)).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    expect(runner.cancel('../../etc/passwd', alice, true)).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
  });

  it('a throwing action fails with the first line of its message; a non-zero exit fails too', async () => {
    const { runner, audit } = setup();
    const threw = started(
      runner.start(
        action({
          run: async (io) => {
            io.line('before');
            throw new Error('compose file is invalid\n  at line 3');
          },
        }),
        { actor: alice },
      ),
    );
    expect(await runner.wait(threw.id)).toMatchObject({ status: 'failed', error: 'compose file is invalid' });
    const syncThrow = started(
      runner.start(
        action({
          site: 'x',
          run: () => {
            throw new Error('boom');
          },
        }),
        { actor: alice },
      ),
    );
    expect(await runner.wait(syncThrow.id)).toMatchObject({ status: 'failed', error: 'boom' });
    const exit = started(
      runner.start(action({ site: 'y', run: async () => ({ exitCode: 2 }) }), { actor: alice }),
    );
    expect(await runner.wait(exit.id)).toMatchObject({
      status: 'failed',
      exitCode: 2,
      error: 'exited with code 2',
    });
    expect(audit.entries.map((e) => e.outcome)).toEqual(['failed', 'failed', 'failed']);
    expect(runner.active()).toEqual([]);
  });

  it('recoverAfterCrash marks queued and running operations interrupted and audits each', () => {
    const { runner, operations, audit, clock } = setup();
    const base = { kind: 'pull', host: 'local', args: {}, requestedBy: alice, logPath: null };
    operations.create({ ...base, id: 'op_1', site: 'a', status: 'running', createdAt: clock.t - 5000 });
    operations.update('op_1', { startedAt: clock.t - 4000 });
    operations.create({ ...base, id: 'op_2', site: 'b', status: 'queued', createdAt: clock.t - 3000 });
    operations.create({ ...base, id: 'op_3', site: 'c', status: 'succeeded', createdAt: clock.t - 9000 });
    const ops = runner.recoverAfterCrash(clock.t);
    expect(ops.map((o) => o.id).sort()).toEqual(['op_1', 'op_2']);
    expect(operations.get('op_1')).toMatchObject({ status: 'interrupted', finishedAt: clock.t });
    expect(operations.get('op_3')!.status).toBe('succeeded');
    expect(audit.entries.map((e) => [e.operationId, e.outcome, e.durationMs])).toEqual([
      ['op_1', 'interrupted', 4000],
      ['op_2', 'interrupted', null],
    ]);
  });

  it('shutdown waits for running runs, then cancels the rest and refuses new ones', async () => {
    const { runner, operations } = setup({ maxConcurrent: 2 });
    const quick = started(
      runner.start(
        action({ site: 'a', run: () => new Promise((r) => setTimeout(() => r({ exitCode: 0 }), 10)) }),
        { actor: alice },
      ),
    );
    const slow = started(
      runner.start(action({ site: 'b', run: (io) => aborted(io.signal).then(() => ({ exitCode: 143 })) }), {
        actor: alice,
      }),
    );
    const queued = started(runner.start(action({ site: 'c', run: async () => {} }), { actor: alice }));
    expect(queued.status).toBe('queued');

    const result = await runner.shutdown(100);
    expect(result).toEqual({ finished: 1, cancelled: 2 });
    expect(operations.get(quick.id)!.status).toBe('succeeded');
    expect(operations.get(slow.id)).toMatchObject({ status: 'cancelled', error: 'SiteFlow shut down' });
    expect(operations.get(queued.id)).toMatchObject({ status: 'cancelled', error: 'SiteFlow shut down' });
    expect(operations.history.get(queued.id)).toEqual(['queued', 'cancelled']);
    expect(runner.start(action({ site: 'd', run: async () => {} }), { actor: alice })).toMatchObject({
      ok: false,
      error: { code: 'shutting_down' },
    });
  });

  it('events() of a finished run the hub forgot comes from the stored operation', async () => {
    const { runner, hub } = setup();
    const op = started(runner.start(action({ run: async () => ({ exitCode: 0 }) }), { actor: alice }));
    await runner.wait(op.id);
    // Push the run out of the hub's retention.
    for (let i = 0; i < 60; i++)
      hub.publish(`other-${i}`, {
        type: 'end',
        status: 'succeeded',
        exitCode: 0,
        error: null,
        durationMs: 0,
        at: 0,
      });
    expect(hub.has(op.id)).toBe(false);
    expect(await collect(runner.events(op.id))).toEqual([
      expect.objectContaining({ type: 'end', status: 'succeeded', exitCode: 0 }),
    ]);
    expect(await collect(runner.events('op_unknown'))).toEqual([]);
  });
});

describe('ActionRunner with FileRunLog', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the complete output to a file that reads back identically', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siteflow-runs-'));
    const runLog = new FileRunLog(dir);
    const { runner } = setup({ runLog });
    const op = started(
      runner.start(
        action({
          run: async (io) => {
            for (let i = 0; i < 2000; i++) io.line(`line ${i} ✓`);
          },
        }),
        { actor: alice },
      ),
    );
    const final = (await runner.wait(op.id))!;
    const expected = Array.from({ length: 2000 }, (_, i) => `line ${i} ✓\n`).join('');
    expect(await runLog.read(final.logPath!)).toBe(expected);
    expect(readFileSync(join(dir, final.logPath!), 'utf8')).toBe(expected);
    expect(final.outputTail!.split('\n')).toHaveLength(20);
  });
});

describe('secret masking in the run output path', () => {
  it('masks lines, progress and the error before the run log, the hub, the tail and the audit see them', async () => {
    const { SecretMasker, MASK } = await import('../../../src/core/secret-mask.js');
    const masker = new SecretMasker();
    const secret = 'pa55-w0rd-xyz';
    let prepared = 0;
    const { operations, audit, runLog, runner } = setup({
      masker,
      // The site's secrets become known just before the action runs.
      beforeRun: async () => {
        prepared++;
        masker.set('site:local/blog', [secret]);
      },
    });
    const op = started(
      runner.start(
        action({
          run: async (io) => {
            io.line(`db password=${secret}\nnext ${secret}${secret}`);
            io.progress('web', `env ${secret}`);
            throw new Error(`compose failed: ${secret}`);
          },
        }),
        { actor: alice },
      ),
    );
    const events = collect(runner.events(op.id));
    const final = (await runner.wait(op.id))!;
    expect(prepared).toBe(1);
    const everything = JSON.stringify([
      await events,
      runLog.lines(final.logPath),
      final,
      operations.get(op.id),
      audit.entries,
    ]);
    expect(everything).not.toContain(secret);
    expect(runLog.lines(final.logPath)).toEqual([
      `db password=${MASK}`,
      `next ${MASK}${MASK}`,
      `web: env ${MASK}`,
      `# Failed: compose failed: ${MASK}`,
    ]);
    expect(final.error).toBe(`compose failed: ${MASK}`);
  });
});
