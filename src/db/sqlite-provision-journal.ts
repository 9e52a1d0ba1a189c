/**
 * The provision journal on SQLite: which steps a running provision (or deprovision) has done,
 * so that the next start after a crash can undo (or finish) it. One row per site while it runs.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from './database.js';
import { provisionJournal } from './schema.js';

/** A step a provision did that its undo must take back. */
export type ProvisionStep = 'folder' | 'snippet' | 'caddy-reload' | 'compose';

/** One unfinished provision or deprovision. */
export interface JournalEntry {
  host: string;
  site: string;
  kind: 'provision' | 'deprovision';
  operationId: string | null;
  siteDir: string;
  steps: ProvisionStep[];
  /** The action's options (a deprovision's removeVolumes and deleteFiles). */
  args: Record<string, unknown>;
  startedAt: number;
}

/** See the module comment. */
export class SqliteProvisionJournal {
  constructor(private readonly db: Db) {}

  /** Starts (or restarts) the entry of a site. */
  begin(e: Omit<JournalEntry, 'steps' | 'args'> & { args?: Record<string, unknown> }): void {
    const row = { ...e, args: e.args ?? {}, steps: [] };
    this.db
      .insert(provisionJournal)
      .values(row)
      .onConflictDoUpdate({
        target: [provisionJournal.host, provisionJournal.site],
        set: {
          kind: row.kind,
          operationId: row.operationId,
          siteDir: row.siteDir,
          steps: [],
          args: row.args,
          startedAt: row.startedAt,
        },
      })
      .run();
  }

  /** Records a step as done (before it can have left anything behind, so the undo covers it). */
  step(host: string, site: string, step: ProvisionStep): void {
    const row = this.get(host, site);
    if (!row || row.steps.includes(step)) return;
    this.db
      .update(provisionJournal)
      .set({ steps: [...row.steps, step] })
      .where(and(eq(provisionJournal.host, host), eq(provisionJournal.site, site)))
      .run();
  }

  /** The provision succeeded, or its undo completed: nothing left to do. */
  end(host: string, site: string): void {
    this.db
      .delete(provisionJournal)
      .where(and(eq(provisionJournal.host, host), eq(provisionJournal.site, site)))
      .run();
  }

  get(host: string, site: string): JournalEntry | null {
    const row = this.db
      .select()
      .from(provisionJournal)
      .where(and(eq(provisionJournal.host, host), eq(provisionJournal.site, site)))
      .get();
    return row ? toEntry(row) : null;
  }

  /** Every entry left by a run that did not end (read at start, after a crash). */
  unfinished(): JournalEntry[] {
    return this.db.select().from(provisionJournal).all().map(toEntry);
  }
}

function toEntry(row: typeof provisionJournal.$inferSelect): JournalEntry {
  return {
    host: row.host,
    site: row.site,
    kind: row.kind === 'deprovision' ? 'deprovision' : 'provision',
    operationId: row.operationId,
    siteDir: row.siteDir,
    steps: row.steps as ProvisionStep[],
    args: row.args ?? {},
    startedAt: row.startedAt,
  };
}
