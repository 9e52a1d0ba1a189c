/**
 * Per-item deadlines for work that fans out over hosts: one slow or hung host never delays the
 * answer about the others. Like Promise.allSettled, with a third outcome: did not answer in time.
 */

/** How long interactive cross-host work (/status, site lookup) waits for one host. */
export const HOST_ANSWER_MS = 3000;

/** The outcome of one item of {@link settleWithin}. */
export type Settled<T> =
  | { status: 'ok'; value: T }
  | { status: 'failed'; error: unknown }
  | { status: 'timeout' };

/**
 * Runs `fn` for every item at once and resolves after at most `ms` with one outcome per item, in
 * order: its value, its error, or `timeout` when it had not settled by then. Never rejects; work
 * still running at the deadline goes on in the background and is ignored. `enough`, asked after
 * each item settles with the outcomes so far (undefined: still running), may end the wait early:
 * the items still running are then `timeout`.
 */
export function settleWithin<K, T>(
  items: readonly K[],
  ms: number,
  fn: (item: K) => Promise<T>,
  enough?: (sofar: ReadonlyArray<Settled<T> | undefined>) => boolean,
): Promise<Settled<T>[]> {
  if (items.length === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const out: Array<Settled<T> | undefined> = new Array(items.length).fill(undefined);
    let left = items.length;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(out.map((o) => o ?? { status: 'timeout' }));
    };
    const timer = setTimeout(finish, Math.max(0, ms));
    timer.unref?.();
    items.forEach((item, i) => {
      const settle = (s: Settled<T>) => {
        if (done) return;
        out[i] = s;
        if (--left === 0 || enough?.(out)) finish();
      };
      // Promise.resolve().then: a synchronous throw in `fn` is that item's failure.
      Promise.resolve()
        .then(() => fn(item))
        .then(
          (value) => settle({ status: 'ok', value }),
          (error: unknown) => settle({ status: 'failed', error }),
        );
    });
  });
}
