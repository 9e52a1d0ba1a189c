import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewOperation } from '../../../src/core/ports.js';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { SqliteAuditStore } from '../../../src/db/sqlite-audit-store.js';
import { SqliteOperationStore } from '../../../src/db/sqlite-operation-store.js';

const actor = { platform: 'slack' as const, id: 'U1', name: 'Ada' };

function newOp(id: string, over: Partial<NewOperation> = {}): NewOperation {
  return {
    id,
    kind: 'restart',
    host: 'local',
    site: 'blog',
    args: { service: 'web', nested: { n: 1, list: ['a'] } },
    requestedBy: actor,
    status: 'queued',
    createdAt: 1_000,
    logPath: `/var/log/siteflow/${id}.log`,
    ...over,
  };
}

describe('SqliteOperationStore', () => {
  let dir: string;
  let file: string;
  let h: OpenDatabase;
  let ops: SqliteOperationStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'siteflow-ops-'));
    file = join(dir, 'ops.db');
    h = openDatabase(file);
    ops = new SqliteOperationStore(h.db);
  });
  afterEach(() => {
    h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads back and updates an operation through a re-open', () => {
    const created = ops.create(newOp('op-1'));
    expect(created).toEqual({
      ...newOp('op-1'),
      startedAt: null,
      finishedAt: null,
      exitCode: null,
      error: null,
      outputTail: null,
      output: null,
    });
    expect(ops.get('op-1')).toEqual(created);

    const running = ops.update('op-1', {
      status: 'running',
      startedAt: 1_100,
      output: { platform: 'slack', channelId: 'C1', threadId: '1712.0001', messageId: null },
    });
    expect(running).toMatchObject({
      status: 'running',
      startedAt: 1_100,
      finishedAt: null,
      output: { platform: 'slack', channelId: 'C1', threadId: '1712.0001', messageId: null },
    });

    const done = ops.update('op-1', {
      status: 'succeeded',
      finishedAt: 1_900,
      exitCode: 0,
      outputTail: 'web_1 restarted\n',
    });
    // Fields not in a patch are kept.
    expect(done).toMatchObject({
      status: 'succeeded',
      startedAt: 1_100,
      exitCode: 0,
      outputTail: 'web_1 restarted\n',
    });
    expect(done?.output?.channelId).toBe('C1');

    h.close();
    h = openDatabase(file);
    ops = new SqliteOperationStore(h.db);
    expect(ops.get('op-1')).toEqual(done);

    expect(ops.update('op-1', { output: null })?.output).toBeNull();
    expect(ops.update('op-1', {})).toEqual(ops.get('op-1'));
  });

  it('returns null for unknown ids and refuses a duplicate id', () => {
    expect(ops.get('nope')).toBeNull();
    expect(ops.update('nope', { status: 'failed' })).toBeNull();
    ops.create(newOp('op-1'));
    expect(() => ops.create(newOp('op-1'))).toThrow();
  });

  it('lists newest first, by site, host and status, with a clamped limit', () => {
    ops.create(newOp('a', { site: 'blog', createdAt: 1 }));
    ops.create(newOp('b', { site: 'shop', host: 'nas', createdAt: 2 }));
    ops.create(newOp('c', { site: 'blog', createdAt: 3, status: 'running' }));
    ops.create(newOp('d', { site: 'blog', createdAt: 3, status: 'failed' }));
    ops.create(newOp('e', { site: null, host: null, kind: 'prune', createdAt: 4, status: 'succeeded' }));
    expect(ops.list().map((o) => o.id)).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(ops.list({ site: 'blog' }).map((o) => o.id)).toEqual(['d', 'c', 'a']);
    expect(ops.list({ host: 'nas' }).map((o) => o.id)).toEqual(['b']);
    expect(ops.list({ status: ['running', 'failed'] }).map((o) => o.id)).toEqual(['d', 'c']);
    expect(ops.list({ site: 'blog', status: ['queued'] }).map((o) => o.id)).toEqual(['a']);
    expect(ops.list({ status: [] })).toEqual([]);
    expect(ops.list({ limit: 2 }).map((o) => o.id)).toEqual(['e', 'd']);
    expect(ops.list({ limit: 0 })).toHaveLength(1);
  });

  it('markInterrupted marks only queued and running operations and returns them', () => {
    ops.create(newOp('q', { status: 'queued', createdAt: 1 }));
    ops.create(newOp('r', { status: 'running', createdAt: 2 }));
    ops.update('r', { startedAt: 2 });
    ops.create(newOp('s', { status: 'succeeded', createdAt: 3 }));
    ops.update('s', { finishedAt: 4 });
    ops.create(newOp('f', { status: 'failed', createdAt: 5 }));

    const marked = ops.markInterrupted(10_000, 'SiteFlow restarted while this ran');
    expect(marked.map((o) => o.id)).toEqual(['q', 'r']);
    for (const o of marked) {
      expect(o).toMatchObject({
        status: 'interrupted',
        finishedAt: 10_000,
        error: 'SiteFlow restarted while this ran',
      });
    }
    expect(ops.get('r')?.startedAt).toBe(2);
    expect(ops.get('s')).toMatchObject({ status: 'succeeded', finishedAt: 4, error: null });
    expect(ops.get('f')).toMatchObject({ status: 'failed', finishedAt: null });
    expect(ops.markInterrupted(20_000, 'again')).toEqual([]);
  });

  it('pruneBefore deletes only finished operations older than the cut-off, keeps their audit rows', () => {
    ops.create(newOp('old-done', { status: 'succeeded' }));
    ops.update('old-done', { finishedAt: 100 });
    ops.create(newOp('old-nolog', { status: 'failed', logPath: null }));
    ops.update('old-nolog', { finishedAt: 100 });
    ops.create(newOp('new-done', { status: 'succeeded' }));
    ops.update('new-done', { finishedAt: 5_000 });
    ops.create(newOp('old-running', { status: 'running' }));
    // Not final, whatever its finishedAt says.
    ops.update('old-running', { finishedAt: 50 });
    ops.create(newOp('old-queued', { status: 'queued', createdAt: 1 }));

    const audit = new SqliteAuditStore(h.db);
    const entry = audit.record({ at: 100, actor, action: 'restart', outcome: 'ok', operationId: 'old-done' });

    expect(ops.pruneBefore(1_000)).toEqual(['/var/log/siteflow/old-done.log']);
    expect(
      ops
        .list({ limit: 100 })
        .map((o) => o.id)
        .sort(),
    ).toEqual(['new-done', 'old-queued', 'old-running']);
    // The audit row outlives its operation; the reference is cleared.
    expect(audit.query({}).entries).toEqual([{ ...entry, operationId: null }]);
    expect(ops.pruneBefore(1_000)).toEqual([]);
  });
});
