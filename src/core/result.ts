/** An expected outcome as a value: parsers and validators return this instead of throwing. */
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };

/** A successful Result. */
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
/** A failed Result. */
export const err = <E = string>(error: E): Result<never, E> => ({ ok: false, error });
