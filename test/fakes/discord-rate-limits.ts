import { createHash } from 'node:crypto';

/** A fixed-window bucket: `limit` requests per `windowMs`, window starting at the first request. */
export interface BucketLimit {
  limit: number;
  windowMs: number;
}

/** What the limiter answered for one request, in the terms of Discord's headers. */
export interface BucketState {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetAt: number;
  bucket: string;
  /** 'user' for per-route buckets, 'global' for the global limit. */
  scope: 'user' | 'global' | 'shared';
}

interface Window {
  count: number;
  resetAt: number;
}

/** Opaque bucket hash for a route template, stable across runs (like Discord's X-RateLimit-Bucket). */
export function bucketHash(template: string): string {
  return createHash('sha1').update(template).digest('hex').slice(0, 32);
}

/**
 * Discord-style rate limits: one bucket per route template and major parameter, plus a global
 * per-second limit for bot routes. Produces the `X-RateLimit-*` headers discord.js reads.
 */
export class DiscordRateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly routeLimits: Record<string, BucketLimit>,
    private readonly defaultLimit: BucketLimit,
    private readonly globalPerSecond: number,
  ) {}

  /** Counts one request on the bucket of `template` + `major`. */
  take(template: string, major: string, now = Date.now()): BucketState {
    const cfg = this.routeLimits[template] ?? this.defaultLimit;
    const key = `${template}:${major}`;
    const w = this.current(key, cfg.windowMs, now);
    const allowed = w.count < cfg.limit;
    if (allowed) w.count++;
    return {
      allowed,
      limit: cfg.limit,
      remaining: Math.max(0, cfg.limit - w.count),
      resetAt: w.resetAt,
      bucket: bucketHash(template),
      scope: 'user',
    };
  }

  /** Counts one request against the global limit; undefined when allowed. */
  takeGlobal(now = Date.now()): BucketState | undefined {
    const w = this.current('global', 1000, now);
    if (w.count < this.globalPerSecond) {
      w.count++;
      return undefined;
    }
    return {
      allowed: false,
      limit: this.globalPerSecond,
      remaining: 0,
      resetAt: w.resetAt,
      bucket: 'global',
      scope: 'global',
    };
  }

  private current(key: string, windowMs: number, now: number): Window {
    let w = this.windows.get(key);
    if (!w || now >= w.resetAt) {
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    return w;
  }
}

/** The `X-RateLimit-*` headers for a bucket state (Retry-After added on 429 by the caller). */
export function rateLimitHeaders(state: BucketState, now = Date.now()): Record<string, string> {
  const resetAfter = Math.max(0, state.resetAt - now) / 1000;
  return {
    'X-RateLimit-Limit': String(state.limit),
    'X-RateLimit-Remaining': String(state.remaining),
    'X-RateLimit-Reset': (state.resetAt / 1000).toFixed(3),
    'X-RateLimit-Reset-After': resetAfter.toFixed(3),
    'X-RateLimit-Bucket': state.bucket,
  };
}
