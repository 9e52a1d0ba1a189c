/**
 * Turns dockerode / docker-modem / ssh2 failures into SiteFlowError codes:
 * DOCKER_UNREACHABLE (socket missing, refused, network or SSH failure), DOCKER_NOT_FOUND (HTTP 404),
 * DOCKER_API (any other engine answer). Aborts pass through unchanged.
 */
import { SiteFlowError } from '../core/errors.js';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ENOTSOCK',
  'ERR_SOCKET_CLOSED',
]);

interface ModemError {
  name?: string;
  code?: string;
  statusCode?: number;
  reason?: string;
  message?: string;
  json?: { message?: string } | null;
  level?: string;
}

/** True when `e` comes from an AbortSignal. */
export function isAbortError(e: unknown): boolean {
  return (e as { name?: string })?.name === 'AbortError' || (e as { code?: string })?.code === 'ABORT_ERR';
}

/** A SiteFlowError for a failed engine call on `host`; `what` names the call (e.g. `inspect web`). */
export function dockerError(e: unknown, host: string, what: string): Error {
  if (e instanceof SiteFlowError || isAbortError(e)) return e as Error;
  const m = (e ?? {}) as ModemError;
  if (typeof m.statusCode === 'number') {
    const detail = (m.json?.message ?? m.reason ?? '').toString().trim();
    const code = m.statusCode === 404 ? 'DOCKER_NOT_FOUND' : 'DOCKER_API';
    return new SiteFlowError(
      code,
      `${what} on ${host}: ${detail || `HTTP ${m.statusCode}`}`,
      { host, statusCode: m.statusCode },
      { cause: e },
    );
  }
  // ssh2 reports connection and authentication failures with a `level`.
  if ((m.code && UNREACHABLE_CODES.has(m.code)) || m.level?.startsWith('client-')) {
    return new SiteFlowError(
      'DOCKER_UNREACHABLE',
      `Docker on ${host} is not reachable (${m.code ?? m.level}): ${what}`,
      { host, errno: m.code ?? m.level },
      { cause: e },
    );
  }
  return new SiteFlowError(
    'DOCKER_API',
    `${what} on ${host}: ${m.message?.split('\n')[0] ?? String(e)}`,
    { host },
    { cause: e },
  );
}
