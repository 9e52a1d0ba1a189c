import type {
  AuditEntry,
  AuditPage,
  AuditQuery,
  AuditStore,
  NewAuditEntry,
} from '../../../src/core/ports.js';

/** A hand-written in-memory AuditStore for unit tests of core logic. */
export class MemoryAuditStore implements AuditStore {
  readonly entries: AuditEntry[] = [];
  record(e: NewAuditEntry): AuditEntry {
    const entry: AuditEntry = {
      ...e,
      id: this.entries.length + 1,
      host: e.host ?? null,
      site: e.site ?? null,
      durationMs: e.durationMs ?? null,
      details: e.details ?? {},
      operationId: e.operationId ?? null,
    };
    this.entries.push(entry);
    return entry;
  }
  query(q: AuditQuery): AuditPage {
    const rows = this.entries
      .filter((e) => (q.action ? e.action === q.action : true) && (q.site ? e.site === q.site : true))
      .reverse();
    return { entries: rows.slice(0, q.limit ?? 20), nextCursor: null };
  }
  pruneBefore(before: number): number {
    const keep = this.entries.filter((e) => e.at >= before);
    const n = this.entries.length - keep.length;
    this.entries.splice(0, this.entries.length, ...keep);
    return n;
  }
}
