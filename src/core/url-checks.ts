/**
 * URL checks, the pure part: which URLs a site has (the domain it was provisioned with, from
 * the `siteflow.domain` label, plus any `siteflow.url` labels), what each must answer
 * (`siteflow.url.expect`, `siteflow.url.keyword`), and how one answer is judged. Labels come
 * from an engine and are untrusted: every value is validated here before it becomes a URL.
 * The checker only ever sends requests to the URLs this module returns.
 */
import type { ContainerInfo } from './engine.js';

/** Label naming the domain a site was provisioned with (set by /provision). */
export const DOMAIN_LABEL = 'siteflow.domain';
/** Label with one or more http(s) URLs of a site, comma-separated. */
export const URL_LABEL = 'siteflow.url';
/** Label with the accepted status codes (`200`, `200,301`, `2xx`, `200-299`); default: below 400. */
export const EXPECT_LABEL = 'siteflow.url.expect';
/** Label with text the body must contain. */
export const KEYWORD_LABEL = 'siteflow.url.keyword';

/** One URL to check and what it must answer. */
export interface UrlTarget {
  url: string;
  /** Accepted statuses as inclusive ranges; empty: any status below 400. */
  expect: ReadonlyArray<readonly [number, number]>;
  /** Text the body must contain; null: no body check. */
  keyword: string | null;
  /** Where it came from. */
  source: 'domain' | 'label';
}

/** The outcome of one check of one URL. */
export interface UrlCheckResult {
  url: string;
  ok: boolean;
  /** HTTP status of the final answer; null when none arrived. */
  status: number | null;
  /** Time to the full (capped) answer; null when none arrived. */
  latencyMs: number | null;
  /** Why it failed (`answered 404`, `keyword "x" missing`, `certificate not trusted (...)`); null when ok. */
  error: string | null;
  /** Epoch ms of the check. */
  at: number;
  /** The certificate of an https URL, when the TLS handshake got that far. */
  certificate: CertificateInfo | null;
}

/** What is recorded of an https URL's certificate. */
export interface CertificateInfo {
  /** The host name the certificate was presented for. */
  domain: string;
  /** Epoch ms it expires. */
  validTo: number;
  /** Issuer (organisation or common name). */
  issuer: string;
}

/** Problems found in a site's labels (reported, never thrown). */
export interface UrlTargetsOf {
  targets: UrlTarget[];
  problems: string[];
}

const MAX_URL = 2048;
const MAX_KEYWORD = 200;

/**
 * Checks one URL from a label: http or https only, no user or password in it (that would be a
 * secret in logs and chat), at most 2048 characters. Returns the normalized URL or an error.
 */
export function checkProbeUrl(raw: string): { ok: true; url: string } | { ok: false; error: string } {
  const s = raw.trim();
  if (!s || s.length > MAX_URL) return { ok: false, error: 'a URL has 1-2048 characters' };
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return { ok: false, error: `"${s.slice(0, 80)}" is not a URL` };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    return { ok: false, error: `only http and https URLs are checked, not ${u.protocol.slice(0, 20)}` };
  if (u.username || u.password)
    return { ok: false, error: 'a checked URL may not contain a user or password' };
  if (!u.hostname) return { ok: false, error: 'a URL needs a host' };
  u.hash = '';
  return { ok: true, url: u.toString() };
}

/** Parses `siteflow.url.expect`: `200`, `200,204`, `2xx`, `200-299`; null when malformed. */
export function parseExpect(raw: string): Array<[number, number]> | null {
  const out: Array<[number, number]> = [];
  for (const part of raw.split(',').map((x) => x.trim().toLowerCase())) {
    if (!part) continue;
    let m = /^([1-5])xx$/.exec(part);
    if (m) {
      out.push([Number(m[1]) * 100, Number(m[1]) * 100 + 99]);
      continue;
    }
    m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    if (a < 100 || b > 599 || b < a) return null;
    out.push([a, b]);
  }
  return out.length ? out : null;
}

/** The site's URL for a provisioned domain: `https://DOMAIN/`, or `http://DOMAIN:PORT/` behind CADDY_SITE_PORT. */
export function domainUrl(domain: string, caddyPort: number | null): string | null {
  // The same rule as /provision's domain check: a lowercase hostname, nothing else.
  if (
    !/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(
      domain,
    )
  )
    return null;
  return caddyPort !== null ? `http://${domain}:${caddyPort}/` : `https://${domain}/`;
}

/**
 * The URLs of a site from its containers' labels, deduplicated. A container's expect and
 * keyword labels apply to the URLs of the same container.
 */
export function urlTargetsOf(
  containers: ReadonlyArray<Pick<ContainerInfo, 'labels' | 'name'>>,
  caddyPort: number | null,
): UrlTargetsOf {
  const byUrl = new Map<string, UrlTarget>();
  const problems: string[] = [];
  for (const c of containers) {
    const l = c.labels ?? {};
    let expect: Array<[number, number]> = [];
    if (l[EXPECT_LABEL] !== undefined) {
      const e = parseExpect(l[EXPECT_LABEL]);
      if (e) expect = e;
      else
        problems.push(
          `${c.name}: ${EXPECT_LABEL} "${l[EXPECT_LABEL].slice(0, 40)}" is not a list of status codes`,
        );
    }
    let keyword: string | null = null;
    if (l[KEYWORD_LABEL] !== undefined) {
      const k = l[KEYWORD_LABEL];
      if (k.length > 0 && k.length <= MAX_KEYWORD) keyword = k;
      else problems.push(`${c.name}: ${KEYWORD_LABEL} must have 1-${MAX_KEYWORD} characters`);
    }
    const add = (url: string, source: UrlTarget['source']) => {
      if (!byUrl.has(url)) byUrl.set(url, { url, expect, keyword, source });
    };
    if (l[DOMAIN_LABEL]) {
      const u = domainUrl(l[DOMAIN_LABEL], caddyPort);
      if (u) add(u, 'domain');
      else problems.push(`${c.name}: ${DOMAIN_LABEL} is not a domain`);
    }
    if (l[URL_LABEL]) {
      for (const raw of l[URL_LABEL].split(',')) {
        if (!raw.trim()) continue;
        const r = checkProbeUrl(raw);
        if (r.ok) add(r.url, 'label');
        else problems.push(`${c.name}: ${URL_LABEL}: ${r.error}`);
      }
    }
  }
  return { targets: [...byUrl.values()], problems };
}

/** Whether a status is accepted by a target's expectation. */
export function statusAccepted(t: Pick<UrlTarget, 'expect'>, status: number): boolean {
  if (!t.expect.length) return status < 400;
  return t.expect.some(([a, b]) => status >= a && status <= b);
}

/** Judges a final answer: null when it passes, else the reason. */
export function judgeAnswer(
  t: Pick<UrlTarget, 'expect' | 'keyword'>,
  status: number,
  body: string,
): string | null {
  if (!statusAccepted(t, status)) return `answered ${status}`;
  if (t.keyword !== null && !body.includes(t.keyword)) return `keyword "${t.keyword}" missing from the page`;
  return null;
}

/** One line about a check, for alerts and /status: `https://x/ answered 404 (12 ms)`. */
export function describeCheck(
  r: Pick<UrlCheckResult, 'url' | 'ok' | 'status' | 'latencyMs' | 'error'>,
): string {
  const ms = r.latencyMs !== null ? ` (${Math.round(r.latencyMs)} ms)` : '';
  if (r.ok) return `${r.url} answered ${r.status}${ms}`;
  return `${r.url} ${r.error ?? 'failed'}${r.status !== null && !r.error?.startsWith('answered') ? `, status ${r.status}` : ''}${ms}`;
}

const DAY = 86_400_000;

/** Whole days left until `validTo` (negative once expired). */
export function daysLeft(validTo: number, now: number): number {
  return Math.floor((validTo - now) / DAY);
}
