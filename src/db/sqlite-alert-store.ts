import { randomBytes } from 'node:crypto';
import { and, asc, count, desc, eq, gt, inArray, isNull, lt, notInArray, or } from 'drizzle-orm';
import type { AlertKind, AlertRecord, AlertRef, AlertStatus } from '../core/alerts.js';
import type { AlertSeverity } from '../core/live-state.js';
import type { Db } from './database.js';
import { alertDeliveries, alertRefs, alertSilences, alerts } from './schema.js';

/** A stored silence. */
export interface StoredSilence {
  id: string;
  host: string;
  site: string | null;
  until: number;
  by: string;
  reason: string | null;
  createdAt: number;
  endedAt: number | null;
}

/** What a delivery does on its channel. */
export type DeliveryOp = 'post' | 'reply' | 'update';

/** One queued delivery. */
export interface Delivery {
  id: number;
  channel: string;
  alertId: string;
  op: DeliveryOp;
  /** The alert (post, update) or the reply text. */
  alert: AlertRecord | null;
  text: string | null;
  /** For a post: edit this alert's message into the new alert instead of posting (see AlertEffect.takeOver). */
  takeOver: string | null;
  attempts: number;
  nextAt: number;
  createdAt: number;
  lastError: string | null;
  /** Unique per queued delivery, stable across its retries (see DeliveryContext). */
  deliveryId: string;
}

/**
 * SQLite persistence of the monitor: the alert history (open and resolved, silenced ones
 * too), silences, the delivery queue and where each alert was posted on each channel.
 */
export class SqliteAlertStore {
  constructor(private readonly db: Db) {}

  /** Inserts or replaces an alert. */
  saveAlert(a: AlertRecord): void {
    const row = {
      id: a.id,
      kind: a.kind,
      key: a.key,
      severity: a.severity,
      status: a.status,
      host: a.host,
      site: a.site,
      title: a.title,
      lines: a.lines,
      silenced: a.silenced,
      announced: a.announced,
      parentId: a.parentId,
      openedAt: a.openedAt,
      updatedAt: a.updatedAt,
      resolvedAt: a.resolvedAt,
      ackedBy: a.ackedBy,
      remindedAt: a.remindedAt,
    };
    this.db.insert(alerts).values(row).onConflictDoUpdate({ target: alerts.id, set: row }).run();
  }

  /** Open alerts (to restore after a restart). */
  openAlerts(): AlertRecord[] {
    return this.db.select().from(alerts).where(eq(alerts.status, 'open')).all().map(toAlert);
  }

  /** One alert by id, open or not. */
  alert(id: string): AlertRecord | null {
    const r = this.db.select().from(alerts).where(eq(alerts.id, id)).get();
    return r ? toAlert(r) : null;
  }

  /** The newest alerts, open and resolved. */
  history(limit = 50): AlertRecord[] {
    return this.db.select().from(alerts).orderBy(desc(alerts.openedAt)).limit(limit).all().map(toAlert);
  }

  /** Adds a silence, ending any active one for the same target first. */
  addSilence(s: Omit<StoredSilence, 'endedAt'>): StoredSilence {
    this.endSilences(s.host, s.site, s.createdAt);
    this.db
      .insert(alertSilences)
      .values({ ...s, byName: s.by, endedAt: null })
      .run();
    return { ...s, endedAt: null };
  }

  /** Ends the active silences of a target; returns how many. */
  endSilences(host: string, site: string | null, at: number): number {
    const r = this.db
      .update(alertSilences)
      .set({ endedAt: at })
      .where(
        and(
          eq(alertSilences.host, host),
          site === null ? isNull(alertSilences.site) : eq(alertSilences.site, site),
          isNull(alertSilences.endedAt),
          gt(alertSilences.until, at),
        ),
      )
      .run();
    return r.changes;
  }

  /** Silences not ended and not expired at `now`. */
  activeSilences(now: number): StoredSilence[] {
    return this.db
      .select()
      .from(alertSilences)
      .where(and(isNull(alertSilences.endedAt), gt(alertSilences.until, now)))
      .orderBy(asc(alertSilences.until))
      .all()
      .map((r) => ({
        id: r.id,
        host: r.host,
        site: r.site,
        until: r.until,
        by: r.byName,
        reason: r.reason,
        createdAt: r.createdAt,
        endedAt: r.endedAt,
      }));
  }

  /**
   * Queues a delivery. A reply joins a queued, never-tried reply of the same alert; an update
   * replaces one. The channel's head (the job being delivered right now) is never merged into:
   * what it carries is deleted once it went out.
   */
  enqueue(d: {
    channel: string;
    alertId: string;
    op: DeliveryOp;
    alert?: AlertRecord;
    text?: string;
    takeOver?: string;
    at: number;
  }): void {
    const deliveryId = newDeliveryId();
    if (d.op !== 'post') {
      const last = this.db
        .select()
        .from(alertDeliveries)
        .where(eq(alertDeliveries.channel, d.channel))
        .orderBy(desc(alertDeliveries.id))
        .limit(1)
        .get();
      // Only the newest job of the channel may be merged, so order is kept; never the head.
      if (
        last &&
        last.alertId === d.alertId &&
        last.op === d.op &&
        last.attempts === 0 &&
        last.id !== this.headId(d.channel)
      ) {
        const before = JSON.parse(last.payload) as { text?: string; deliveryId?: string };
        // The merged job keeps its delivery id: it was never tried, so nobody saw it yet.
        const keep = before.deliveryId ? { deliveryId: before.deliveryId } : {};
        const payload =
          d.op === 'reply'
            ? JSON.stringify({ text: `${before.text ?? ''}\n${d.text ?? ''}`, ...keep })
            : JSON.stringify({ ...d.alert, ...keep });
        this.db.update(alertDeliveries).set({ payload }).where(eq(alertDeliveries.id, last.id)).run();
        return;
      }
    }
    this.db
      .insert(alertDeliveries)
      .values({
        channel: d.channel,
        alertId: d.alertId,
        op: d.op,
        payload:
          d.op === 'reply'
            ? JSON.stringify({ text: d.text ?? '', deliveryId })
            : JSON.stringify({ ...d.alert, ...(d.takeOver ? { takeOver: d.takeOver } : {}), deliveryId }),
        attempts: 0,
        nextAt: d.at,
        createdAt: d.at,
        lastError: null,
      })
      .run();
  }

  private headId(channel: string): number | null {
    const r = this.db
      .select({ id: alertDeliveries.id })
      .from(alertDeliveries)
      .where(eq(alertDeliveries.channel, channel))
      .orderBy(asc(alertDeliveries.id))
      .limit(1)
      .get();
    return r?.id ?? null;
  }

  /** The oldest queued delivery of a channel (deliveries of a channel go out in order). */
  head(channel: string): Delivery | null {
    const r = this.db
      .select()
      .from(alertDeliveries)
      .where(eq(alertDeliveries.channel, channel))
      .orderBy(asc(alertDeliveries.id))
      .limit(1)
      .get();
    if (!r) return null;
    const { takeOver, text, deliveryId, ...payload } = JSON.parse(r.payload) as AlertRecord & {
      text?: string;
      takeOver?: string;
      deliveryId?: string;
    };
    return {
      id: r.id,
      channel: r.channel,
      alertId: r.alertId,
      op: r.op as DeliveryOp,
      alert: r.op === 'reply' ? null : payload,
      text: r.op === 'reply' ? (text ?? '') : null,
      takeOver: takeOver ?? null,
      attempts: r.attempts,
      nextAt: r.nextAt,
      createdAt: r.createdAt,
      lastError: r.lastError,
      // Rows queued before delivery ids existed: derived from the row, still stable across retries.
      deliveryId: deliveryId ?? `dl_${r.alertId}_${r.id}`,
    };
  }

  /** Removes a delivered job. */
  done(id: number): void {
    this.db.delete(alertDeliveries).where(eq(alertDeliveries.id, id)).run();
  }

  /** Records a failed attempt and when to try again. */
  failed(id: number, attempts: number, nextAt: number, error: string): void {
    this.db
      .update(alertDeliveries)
      .set({ attempts, nextAt, lastError: error.slice(0, 500) })
      .where(eq(alertDeliveries.id, id))
      .run();
  }

  /** Deliveries waiting, overall or for one channel. */
  queueLength(channel?: string): number {
    const q = this.db.select({ n: count() }).from(alertDeliveries);
    const r = channel ? q.where(eq(alertDeliveries.channel, channel)).get() : q.get();
    return r?.n ?? 0;
  }

  /** Where an alert lives on a channel. */
  ref(alertId: string, channel: string): AlertRef | null {
    const r = this.db
      .select()
      .from(alertRefs)
      .where(and(eq(alertRefs.alertId, alertId), eq(alertRefs.channel, channel)))
      .get();
    return r?.ref ?? null;
  }

  /** Forgets where an alert lives on a channel (its message is gone); whether there was a ref. */
  dropRef(alertId: string, channel: string): boolean {
    return (
      this.db
        .delete(alertRefs)
        .where(and(eq(alertRefs.alertId, alertId), eq(alertRefs.channel, channel)))
        .run().changes > 0
    );
  }

  /**
   * Deletes resolved alerts (with their refs and queued deliveries) resolved before `before`,
   * silences that ended or expired before `before`, and queued deliveries of channels not in
   * `channels` (no longer configured).
   */
  prune(
    before: number,
    channels: readonly string[],
  ): { alerts: number; silences: number; deliveries: number } {
    return this.db.transaction((tx) => {
      const old = and(eq(alerts.status, 'resolved'), lt(alerts.resolvedAt, before));
      const ids = tx.select({ id: alerts.id }).from(alerts).where(old);
      let deliveries = tx.delete(alertDeliveries).where(inArray(alertDeliveries.alertId, ids)).run().changes;
      tx.delete(alertRefs).where(inArray(alertRefs.alertId, ids)).run();
      const gone = tx.delete(alerts).where(old).run().changes;
      const silences = tx
        .delete(alertSilences)
        .where(or(lt(alertSilences.endedAt, before), lt(alertSilences.until, before)))
        .run().changes;
      deliveries += tx
        .delete(alertDeliveries)
        .where(channels.length ? notInArray(alertDeliveries.channel, [...channels]) : undefined)
        .run().changes;
      return { alerts: gone, silences, deliveries };
    });
  }

  /** Remembers where an alert lives on a channel. */
  setRef(alertId: string, channel: string, ref: AlertRef): void {
    this.db
      .insert(alertRefs)
      .values({ alertId, channel, ref })
      .onConflictDoUpdate({ target: [alertRefs.alertId, alertRefs.channel], set: { ref } })
      .run();
  }
}

/** A new delivery id: `dl_` + time + random (unique across restarts, unlike a reused row id). */
function newDeliveryId(): string {
  return `dl_${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
}

function toAlert(r: typeof alerts.$inferSelect): AlertRecord {
  return {
    id: r.id,
    kind: r.kind as AlertKind,
    key: r.key,
    severity: r.severity as AlertSeverity,
    status: r.status as AlertStatus,
    host: r.host,
    site: r.site,
    title: r.title,
    lines: r.lines,
    silenced: r.silenced,
    announced: r.announced,
    parentId: r.parentId,
    openedAt: r.openedAt,
    updatedAt: r.updatedAt,
    resolvedAt: r.resolvedAt,
    ackedBy: r.ackedBy,
    remindedAt: r.remindedAt,
  };
}
