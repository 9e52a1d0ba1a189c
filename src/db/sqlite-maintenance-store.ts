import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Db } from './database.js';
import { maintenanceWindows } from './schema.js';

/** A stored maintenance window. */
export interface MaintenanceWindow {
  id: string;
  host: string;
  site: string | null;
  cron: string;
  durationMs: number;
  reason: string | null;
  by: string;
  createdAt: number;
  /** End of its latest opening; null before the first. */
  openUntil: number | null;
}

/** SQLite persistence of maintenance windows (removed ones are kept, marked). */
export class SqliteMaintenanceStore {
  constructor(private readonly db: Db) {}

  add(w: MaintenanceWindow): void {
    this.db
      .insert(maintenanceWindows)
      .values({ ...w, byName: w.by, removedAt: null })
      .run();
  }

  /** Windows not removed, oldest first. */
  list(): MaintenanceWindow[] {
    return this.db
      .select()
      .from(maintenanceWindows)
      .where(isNull(maintenanceWindows.removedAt))
      .orderBy(asc(maintenanceWindows.createdAt))
      .all()
      .map((r) => ({
        id: r.id,
        host: r.host,
        site: r.site,
        cron: r.cron,
        durationMs: r.durationMs,
        reason: r.reason,
        by: r.byName,
        createdAt: r.createdAt,
        openUntil: r.openUntil,
      }));
  }

  /** Records that a window opened until `until`. */
  opened(id: string, until: number): void {
    this.db.update(maintenanceWindows).set({ openUntil: until }).where(eq(maintenanceWindows.id, id)).run();
  }

  /** Removes a window; whether it existed. */
  remove(id: string, at: number): boolean {
    return (
      this.db
        .update(maintenanceWindows)
        .set({ removedAt: at })
        .where(and(eq(maintenanceWindows.id, id), isNull(maintenanceWindows.removedAt)))
        .run().changes > 0
    );
  }
}
