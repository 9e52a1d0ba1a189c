/**
 * Operation ids: `op_` + 10 characters of time + 16 random characters, in lowercase
 * Crockford base32 (ULID-like, so ids sort by creation time). The format is checked
 * wherever an id becomes a file name, so an id can never escape the log directory.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** The exact shape of an operation id. */
export const OPERATION_ID_RE = /^op_[0-9a-hjkmnp-tv-z]{26}$/;

/** A new, time-sortable operation id for a run created at `now` (epoch ms). */
export function newOperationId(now: number = Date.now()): string {
  let t = Math.max(0, Math.floor(now));
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  let rand = '';
  for (const b of randomBytes(16)) rand += ALPHABET[b & 31]!;
  return `op_${time}${rand}`;
}

/** True when `id` has the shape of an operation id. */
export function isOperationId(id: unknown): id is string {
  return typeof id === 'string' && OPERATION_ID_RE.test(id);
}
