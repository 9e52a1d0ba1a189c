/** Small, pure formatting helpers shared by commands and surfaces. */

let displayZone: string | undefined;

/**
 * The time zone times are shown in as text (console, page, code blocks, fallbacks): the TZ
 * setting, read by config.ts and set once by main.ts. Unset: the process's zone (UTC when the
 * TZ environment variable is unset, as in the image).
 */
export function setDisplayTimeZone(tz: string | undefined): void {
  displayZone = tz || undefined;
}

/** `2026-11-22 02:23:45 CET`-style timestamp in the display time zone (see setDisplayTimeZone). */
export function formatTime(ms: number): string {
  return formatLocalTime(ms, displayZone);
}

/** Human duration: 850 ms, 12.3 s, 4 m 05 s, 2 h 10 m. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
}

/** How long ago, coarse: 5s ago, 3m ago, 2h ago, 4d ago. */
export function formatAgo(ms: number, now: number): string {
  const d = Math.max(0, now - ms) / 1000;
  if (d < 60) return `${Math.floor(d)}s ago`;
  if (d < 3600) return `${Math.floor(d / 60)}m ago`;
  if (d < 86400) return `${Math.floor(d / 3600)}h ago`;
  return `${Math.floor(d / 86400)}d ago`;
}

/** Cuts `s` to at most `max` characters, marking the cut. */
export function clamp(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * A point in time inside reply text, rendered by each surface in its own format: Discord
 * `<t:unix:R>` / `<t:unix:f>`, Slack `<!date^unix^…|fallback>`, local time (TZ) on the console,
 * in code blocks and on the page. `relative` shows it as "3 minutes ago".
 */
export function stamp(ms: number, relative = false): string {
  return `⟦t:${Math.floor(ms / 1000)}:${relative ? 'R' : 'f'}⟧`;
}

const STAMP_RE = /⟦t:(\d{1,12}):([Rf])⟧/g;

/** Replaces every {@link stamp} in `text` with `render(unixSeconds, relative)`. */
export function renderStamps(text: string, render: (unix: number, relative: boolean) => string): string {
  return text.includes('⟦t:')
    ? text.replace(STAMP_RE, (_m, u: string, s: string) => render(Number(u), s === 'R'))
    : text;
}

/** True when `tz` is a time zone this runtime knows (an IANA name such as `Europe/Berlin`). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const localFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * `2026-11-22 02:23:45 CET`: local time in `timeZone` (an IANA name), or in the process's
 * time zone (the TZ environment variable, UTC when unset) when none is given.
 */
export function formatLocalTime(ms: number, timeZone: string | undefined = displayZone): string {
  const key = timeZone ?? '';
  let f = localFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('sv-SE', {
      ...(timeZone ? { timeZone } : {}),
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    });
    localFormats.set(key, f);
  }
  return f.format(new Date(ms)).replace('−', '-');
}

/** Stamps as plain text: local time (`timeZone`), or "3m ago" for relative ones. */
export function plainStamps(text: string, now = Date.now(), timeZone = displayZone): string {
  return renderStamps(text, (u, relative) =>
    relative ? formatAgo(u * 1000, now) : formatLocalTime(u * 1000, timeZone),
  );
}

/** Stamps in Discord's timestamp markup (shown in each reader's own time zone and language). */
export function discordStamps(text: string): string {
  return renderStamps(text, (u, relative) => `<t:${u}:${relative ? 'R' : 'f'}>`);
}

/**
 * Stamps in Slack's date markup `<!date^unix^{date_short_pretty} {time}|fallback>` (shown in each
 * reader's own time zone), with the local time (`timeZone`) as the fallback text.
 */
export function slackStamps(text: string, timeZone = displayZone): string {
  // `{date_short_pretty}` says "today" / "yesterday" where it applies, so relative stamps read well too.
  return renderStamps(
    text,
    (u) => `<!date^${u}^{date_short_pretty} {time}|${formatLocalTime(u * 1000, timeZone)}>`,
  );
}
