/**
 * The one error type of SiteFlow. Exceptional failures throw it with a string code
 * named by area (DOCKER_*, COMPOSE_*, SSH_*, CHAT_*, INPUT_*, DB_*, CONFIG_*, RUN_*);
 * callers switch on `code`, never on instanceof chains.
 */
export class SiteFlowError extends Error {
  override readonly name = 'SiteFlowError';
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `err` is a SiteFlowError, optionally with a code starting with `prefix`. */
export function isSiteFlowError(err: unknown, prefix?: string): err is SiteFlowError {
  return err instanceof SiteFlowError && (prefix === undefined || err.code.startsWith(prefix));
}

/** A short, safe, one-line description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
