import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Platform } from '../core/ports.js';
import type { Db } from './database.js';
import { schedules } from './schema.js';

/** A stored schedule. */
export interface StoredSchedule {
  id: string;
  cron: string;
  commandLine: string;
  by: { platform: Platform; id: string; name: string };
  createdAt: number;
  lastRunAt: number | null;
}

/** SQLite persistence of schedules (removed ones are kept, marked). */
export class SqliteScheduleStore {
  constructor(private readonly db: Db) {}

  add(s: StoredSchedule): void {
    this.db
      .insert(schedules)
      .values({
        id: s.id,
        cron: s.cron,
        commandLine: s.commandLine,
        byPlatform: s.by.platform,
        byId: s.by.id,
        byName: s.by.name,
        createdAt: s.createdAt,
        lastRunAt: s.lastRunAt,
        removedAt: null,
      })
      .run();
  }

  /** Schedules not removed, oldest first. */
  list(): StoredSchedule[] {
    return this.db
      .select()
      .from(schedules)
      .where(isNull(schedules.removedAt))
      .orderBy(asc(schedules.createdAt))
      .all()
      .map((r) => ({
        id: r.id,
        cron: r.cron,
        commandLine: r.commandLine,
        by: { platform: r.byPlatform, id: r.byId, name: r.byName },
        createdAt: r.createdAt,
        lastRunAt: r.lastRunAt,
      }));
  }

  ran(id: string, at: number): void {
    this.db.update(schedules).set({ lastRunAt: at }).where(eq(schedules.id, id)).run();
  }

  /** Removes a schedule; whether it existed. */
  remove(id: string, at: number): boolean {
    return (
      this.db
        .update(schedules)
        .set({ removedAt: at })
        .where(and(eq(schedules.id, id), isNull(schedules.removedAt)))
        .run().changes > 0
    );
  }
}
