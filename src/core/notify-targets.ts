/**
 * Configuration values of the notification channels, parsed once: the webhook list
 * (`NOTIFY_WEBHOOK_URLS`, `name=url` or bare URLs) and the channel names they get.
 * Pure functions; config.ts validates with them and the channel factory builds from them.
 */
import { err, ok, type Result } from './result.js';

/** One configured webhook: its channel is `webhook:<name>`. */
export interface WebhookTarget {
  name: string;
  url: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * Parses `NOTIFY_WEBHOOK_URLS`: comma-separated `name=url` or bare `url` (named 1, 2, ... by
 * position). Names are lower-case letters, digits, `-` and `_`; URLs are http or https; every
 * problem is reported. Problems never quote a URL (it may carry a token).
 */
export function parseWebhookUrls(raw: string): Result<WebhookTarget[], string[]> {
  const out: WebhookTarget[] = [];
  const problems: string[] = [];
  const parts = raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  parts.forEach((part, i) => {
    const eq = part.indexOf('=');
    const named = eq > 0 && !part.slice(0, eq).includes('/') && !part.slice(0, eq).includes(':');
    const name = named ? part.slice(0, eq).trim() : String(i + 1);
    const url = named ? part.slice(eq + 1).trim() : part;
    if (!NAME_RE.test(name))
      problems.push(`entry ${i + 1}: "${name.slice(0, 40)}" is not a name (a-z, 0-9, - _)`);
    else if (out.some((w) => w.name === name))
      problems.push(`entry ${i + 1}: the name "${name}" is used twice`);
    if (!isHttpUrl(url))
      problems.push(`entry ${i + 1}${named ? ` (${name})` : ''}: expected an http:// or https:// URL`);
    else out.push({ name, url });
  });
  return problems.length ? err(problems) : ok(out);
}

/** The URLs of `NOTIFY_WEBHOOK_URLS` (to redact each one on its own). */
export function webhookUrlsOf(raw: string): string[] {
  const r = parseWebhookUrls(raw);
  return r.ok ? r.value.map((w) => w.url) : [];
}

/** True for an absolute http(s) URL. */
export function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * An ntfy topic URL split into the server's root (where JSON is published) and the topic
 * (`[-_A-Za-z0-9]{1,64}`, https://docs.ntfy.sh/publish/#publish-as-json); null when it is not one.
 */
export function parseNtfyUrl(s: string): { root: string; topic: string } | null {
  if (!isHttpUrl(s)) return null;
  const u = new URL(s);
  const segs = u.pathname.split('/').filter(Boolean);
  const topic = segs.pop();
  if (!topic || !/^[-_A-Za-z0-9]{1,64}$/.test(topic) || u.search || u.hash) return null;
  u.pathname = `/${segs.join('/')}${segs.length ? '/' : ''}`;
  return { root: u.toString(), topic };
}

/** The password in an smtp(s):// URL (decoded), to redact it on its own; null when none. */
export function smtpUrlPassword(s: string): string | null {
  try {
    const p = new URL(s).password;
    return p ? decodeURIComponent(p) : null;
  } catch {
    return null;
  }
}
