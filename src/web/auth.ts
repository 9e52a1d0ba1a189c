/**
 * Optional access token of the status page (WEB_TOKEN). A request is let in with
 * `Authorization: Bearer <token>` or with the session cookie set by the login form. The cookie
 * holds a random session id known only to this process (never the token), which expires after
 * WEB_SESSION_HOURS and ends at /logout. Comparisons are constant-time (both sides hashed to a
 * fixed length first). Failed logins are limited per client and overall.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'siteflow_session';

/** Constant-time equality of two strings of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** Options of TokenAuth. */
export interface TokenAuthOptions {
  /** How long a login session lasts (WEB_SESSION_HOURS; default 12 h). */
  sessionMs?: number;
  now?: () => number;
  /** Most sessions kept at once; the oldest are dropped beyond it. */
  maxSessions?: number;
}

/** Checks tokens and sessions for one configured token. */
export class TokenAuth {
  /** Session id (hashed) -> expiry (epoch ms), oldest first. */
  private readonly sessions = new Map<string, number>();
  readonly sessionMs: number;
  private readonly now: () => number;
  private readonly maxSessions: number;

  constructor(
    private readonly token: string,
    opts: TokenAuthOptions = {},
  ) {
    this.sessionMs = opts.sessionMs ?? 12 * 3600e3;
    this.now = opts.now ?? Date.now;
    this.maxSessions = opts.maxSessions ?? 10_000;
  }

  /** True when the submitted token is the configured one. */
  checkToken(candidate: string): boolean {
    return candidate.length > 0 && safeEqual(candidate, this.token);
  }

  /** Starts a session; the returned value goes into the cookie. */
  startSession(): string {
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    for (const [k, exp] of this.sessions) if (exp <= now) this.sessions.delete(k);
    while (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(hashId(id), now + this.sessionMs);
    return id;
  }

  /** Ends the request's session, if any. */
  endSession(req: Request): void {
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie) this.sessions.delete(hashId(cookie));
  }

  /** True when the request carries the bearer token or a live session cookie. */
  allows(req: Request): boolean {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && this.checkToken(auth.slice(7).trim())) return true;
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie === null) return false;
    const key = hashId(cookie);
    const exp = this.sessions.get(key);
    if (exp === undefined) return false;
    if (exp <= this.now()) {
      this.sessions.delete(key);
      return false;
    }
    return true;
  }

  /** Express middleware: pages redirect to the login form, the API and metrics answer 401. */
  middleware(open: (req: Request) => boolean) {
    return (req: Request, res: Response, next: NextFunction): void => {
      if (open(req) || this.allows(req)) {
        next();
        return;
      }
      const wantsHtml =
        !req.path.startsWith('/api/') && req.path !== '/metrics' && req.accepts(['html', 'json']) === 'html';
      if (wantsHtml) {
        res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
        return;
      }
      res.set('WWW-Authenticate', 'Bearer realm="siteflow"');
      res
        .status(401)
        .json({ error: 'unauthorized', message: 'This page needs the access token (WEB_TOKEN).' });
    };
  }
}

/** Session ids are looked up by their hash, so the map's timing says nothing about them. */
function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url');
}

/**
 * Failed-login limits: per client address (as WEB_TRUST_PROXY makes it trustworthy) and over
 * all clients together. A flood of new addresses cannot reset a limited one: entries leave only
 * when their window is over, and the overall budget then refuses everyone for the window.
 */
export class LoginLimiter {
  private readonly byClient = new Map<string, { n: number; until: number }>();
  private global = { n: 0, until: 0 };

  constructor(
    private readonly o: {
      perClient?: number;
      overall?: number;
      windowMs?: number;
      maxClients?: number;
    } = {},
  ) {}

  /** True when `client` may not try now. */
  limited(client: string, now: number): boolean {
    if (this.global.until > now && this.global.n >= (this.o.overall ?? 100)) return true;
    const f = this.byClient.get(client);
    return f !== undefined && f.until > now && f.n >= (this.o.perClient ?? 10);
  }

  failed(client: string, now: number): void {
    const windowMs = this.o.windowMs ?? 60_000;
    this.global =
      this.global.until > now
        ? { n: this.global.n + 1, until: this.global.until }
        : { n: 1, until: now + windowMs };
    const f = this.byClient.get(client);
    if (f && f.until > now) {
      f.n++;
      return;
    }
    this.byClient.delete(client);
    if (this.byClient.size >= (this.o.maxClients ?? 10_000))
      for (const [k, v] of this.byClient) if (v.until <= now) this.byClient.delete(k);
    // Still full of live entries: this client is counted in the overall budget only.
    if (this.byClient.size < (this.o.maxClients ?? 10_000))
      this.byClient.set(client, { n: 1, until: now + windowMs });
  }

  succeeded(client: string): void {
    this.byClient.delete(client);
  }
}

/** One cookie's value from a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** A same-site path to return to after login (anything else becomes `/`). */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string') return '/';
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\r\n]/.test(next))
    return '/';
  return next.length > 2000 ? '/' : next;
}
