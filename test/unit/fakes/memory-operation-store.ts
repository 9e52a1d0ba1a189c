import {
  FINAL_STATUSES,
  type NewOperation,
  type Operation,
  type OperationPatch,
  type OperationStatus,
  type OperationStore,
} from '../../../src/core/ports.js';

/** A hand-written in-memory OperationStore for unit tests of core logic. */
export class MemoryOperationStore implements OperationStore {
  readonly rows = new Map<string, Operation>();
  /** Every status each operation went through, in order. */
  readonly history = new Map<string, OperationStatus[]>();

  create(op: NewOperation): Operation {
    if (this.rows.has(op.id)) throw new Error(`duplicate operation id ${op.id}`);
    const row: Operation = {
      ...op,
      startedAt: null,
      finishedAt: null,
      exitCode: null,
      error: null,
      outputTail: null,
      output: null,
    };
    this.rows.set(op.id, row);
    this.history.set(op.id, [op.status]);
    return { ...row };
  }
  update(id: string, patch: OperationPatch): Operation | null {
    const row = this.rows.get(id);
    if (!row) return null;
    Object.assign(row, patch);
    if (patch.status) this.history.get(id)!.push(patch.status);
    return { ...row };
  }
  get(id: string): Operation | null {
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }
  list(q: { site?: string; host?: string; status?: OperationStatus[]; limit?: number } = {}): Operation[] {
    return [...this.rows.values()]
      .filter(
        (o) =>
          (q.site === undefined || o.site === q.site) &&
          (q.host === undefined || o.host === q.host) &&
          (q.status === undefined || q.status.includes(o.status)),
      )
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, q.limit ?? 50)
      .map((o) => ({ ...o }));
  }
  markInterrupted(at: number, reason: string): Operation[] {
    const out: Operation[] = [];
    for (const row of this.rows.values()) {
      if (row.status === 'queued' || row.status === 'running') {
        Object.assign(row, { status: 'interrupted', finishedAt: at, error: reason });
        this.history.get(row.id)!.push('interrupted');
        out.push({ ...row });
      }
    }
    return out;
  }
  pruneBefore(before: number): string[] {
    const paths: string[] = [];
    for (const [id, row] of this.rows) {
      if (FINAL_STATUSES.includes(row.status) && row.finishedAt !== null && row.finishedAt < before) {
        this.rows.delete(id);
        if (row.logPath) paths.push(row.logPath);
      }
    }
    return paths;
  }
}
