/**
 * Per-container alert settings by label, validated like every other untrusted input:
 * `siteflow.alerts=off` (or `false`, `no`) ignores the container; `siteflow.alerts.down_after=120s`
 * makes its site wait that long (a duration such as 90s, 5m, 1h; at most a day) before a
 * "down" alert; `siteflow.alerts.cpu=90%/5m` and `siteflow.alerts.memory=90%/5m` alert when the
 * usage stays above the percent for the whole window. A value that does not parse is ignored
 * and reported, never guessed at.
 */
import { parseDuration } from './command.js';
import { err, ok, type Result } from './result.js';

/** Turns alerts for a container off (`off`) or on (the default). */
export const ALERTS_LABEL = 'siteflow.alerts';
/** How long the container's site must be bad before it alerts. */
export const DOWN_AFTER_LABEL = 'siteflow.alerts.down_after';

const MAX_DOWN_AFTER_MS = 86_400_000;

/** Whether a container's labels opt it out of alerts; an unknown value is an error (and counts as on). */
export function alertsOff(labels: Readonly<Record<string, string>>): Result<boolean> {
  const v = labels[ALERTS_LABEL];
  if (v === undefined) return ok(false);
  const t = v.trim().toLowerCase();
  if (t === 'off' || t === 'false' || t === 'no') return ok(true);
  if (t === 'on' || t === 'true' || t === 'yes' || t === '') return ok(false);
  return err(`${ALERTS_LABEL}=${v.slice(0, 40)}: expected off or on`);
}

/** The down-after of a container's labels in ms (null: not set); an error for a bad value. */
export function labelDownAfterMs(labels: Readonly<Record<string, string>>): Result<number | null> {
  const v = labels[DOWN_AFTER_LABEL];
  if (v === undefined) return ok(null);
  const d = parseDuration(v);
  if (!d.ok || d.value > MAX_DOWN_AFTER_MS)
    return err(`${DOWN_AFTER_LABEL}=${v.slice(0, 40)}: expected a duration such as 120s or 5m, at most 1d`);
  return ok(d.value);
}

/** A resource rule: alert when the usage stays above `percent` for the whole `windowMs`. */
export interface ResourceRule {
  percent: number;
  windowMs: number;
}

/** What a resource rule measures. */
export type ResourceMetric = 'cpu' | 'memory';

/**
 * Labels of the resource rules: `siteflow.alerts.cpu=90%/5m` (percent of one core, as
 * `docker stats` shows it: 200% is two cores busy) and `siteflow.alerts.memory=90%/5m` (percent
 * of the container's memory limit, or of the host's memory when it has none).
 */
export const RESOURCE_LABELS: Record<ResourceMetric, string> = {
  cpu: 'siteflow.alerts.cpu',
  memory: 'siteflow.alerts.memory',
};

/** Highest percent a rule may name: 64 busy cores for CPU, the whole limit for memory. */
const MAX_PERCENT: Record<ResourceMetric, number> = { cpu: 6400, memory: 100 };
const MIN_WINDOW_MS = 1000;

/** The resource rule of a container's labels (null: not set); an error for a bad value. */
export function labelResourceRule(
  labels: Readonly<Record<string, string>>,
  metric: ResourceMetric,
): Result<ResourceRule | null> {
  const name = RESOURCE_LABELS[metric];
  const v = labels[name];
  if (v === undefined) return ok(null);
  const bad = err(
    `${name}=${v.slice(0, 40)}: expected PERCENT%/WINDOW such as 90%/5m (percent 1-${MAX_PERCENT[metric]}, window 1s-1d)`,
  );
  const m = /^\s*(\d{1,4}(?:\.\d{1,2})?)\s*%\s*\/\s*(\S+)\s*$/.exec(v);
  if (!m) return bad;
  const percent = Number(m[1]);
  const d = parseDuration(m[2]!);
  if (percent <= 0 || percent > MAX_PERCENT[metric]) return bad;
  if (!d.ok || d.value < MIN_WINDOW_MS || d.value > MAX_DOWN_AFTER_MS) return bad;
  return ok({ percent, windowMs: d.value });
}
