/**
 * Optional access token of the status page (WEB_TOKEN). A request is let in with
 * `Authorization: Bearer <token>` or with the session cookie set by the login form. The cookie
 * holds an HMAC derived from the token, never the token itself, so no response ever carries
 * WEB_TOKEN. Comparisons are constant-time (both sides hashed to a fixed length first).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'siteflow_session';

/** Constant-time equality of two strings of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** Checks tokens and sessions for one configured token. */
export class TokenAuth {
  private readonly session: string;

  constructor(private readonly token: string) {
    this.session = createHmac('sha256', token).update('siteflow web session v1').digest('base64url');
  }

  /** True when the submitted token is the configured one. */
  checkToken(candidate: string): boolean {
    return candidate.length > 0 && safeEqual(candidate, this.token);
  }

  /** The cookie value a successful login sets. */
  sessionValue(): string {
    return this.session;
  }

  /** True when the request carries the bearer token or a valid session cookie. */
  allows(req: Request): boolean {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && this.checkToken(auth.slice(7).trim())) return true;
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    return cookie !== null && safeEqual(cookie, this.session);
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
