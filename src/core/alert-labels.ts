/**
 * Per-container alert settings by label, validated like every other untrusted input:
 * `siteflow.alerts=off` (or `false`, `no`) ignores the container; `siteflow.alerts.down_after=120s`
 * makes its site wait that long (a duration such as 90s, 5m, 1h; at most a day) before a
 * "down" alert. A value that does not parse is ignored and reported, never guessed at.
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
