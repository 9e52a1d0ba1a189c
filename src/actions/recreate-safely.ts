/**
 * Recreating services on a new image without losing the old one: the previous image is kept
 * under a `sf-prev-<id>` tag, the services are recreated, the fresh containers must become
 * healthy (see `freshVerdict`), and a service that does not is rolled back to its previous
 * image by id (its tag moved back), recreated, and waited for again. Shared by /pull and /up.
 */
import type { Engine } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { ActionIO } from '../core/runs.js';
import { describeHealth, type HealthOutcome, waitHealthy } from './wait-healthy.js';

/** One service whose image changes. */
export interface RecreateTarget {
  service: string;
  /** The image reference of the service (its compose `image:`). */
  ref: string;
  /**
   * The image the service runs now: local id and registry digest (null when never pushed);
   * null when its image does not change (nothing to roll back to).
   */
  previous: { id: string; digest: string | null } | null;
  /** The image it gets; unknown (null) for a build that has not happened yet. */
  next: { id: string | null; digest: string | null };
  /** Said on success instead of the digests when the image does not change, e.g. `recreated`. */
  note?: string;
}

/** Options of {@link recreateSafely}. */
export interface RecreateSafelyOptions {
  engine: Engine;
  site: string;
  io: ActionIO;
  targets: readonly RecreateTarget[];
  healthTimeoutMs: number;
  /** How long a container without a healthcheck must run without a restart (default min(5 s, timeout)). */
  stableMs?: number;
  rollback: boolean;
  prune: boolean;
  /** What is being done, for messages: `pull` or `up`. */
  what: string;
  /** Recreates these services (`force`: even when compose sees no change, and without their dependencies). */
  recreate(services: string[], force: boolean): Promise<unknown>;
  onFailure?: (title: string, lines: string[]) => void;
}

/** `sha256:0123…` -> `0123456789ab` */
const hex12 = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** The repository of an image reference, as written (tag and digest removed). */
export function refRepository(ref: string): string {
  const r = ref.split('@')[0]!;
  const slash = r.lastIndexOf('/');
  const colon = r.lastIndexOf(':');
  return colon > slash ? r.slice(0, colon) : r;
}

/** The tag that keeps a previous image until the change succeeded: `<repo>:sf-prev-<12 hex of its id>`. */
export function keepTag(ref: string, imageId: string): string {
  return `${refRepository(ref)}:sf-prev-${hex12(imageId)}`;
}

/** A digest (or an image id when there is none) as shown to people: `sha256:…` in full. */
const imageName = (i: { id: string | null; digest: string | null }) => i.digest ?? i.id ?? 'an unknown image';

/**
 * Recreates `targets` with health wait and rollback. Resolves true when every recreated
 * service came up healthy; false after a failure (rolled back or not), which `onFailure`
 * reported once.
 */
export async function recreateSafely(o: RecreateSafelyOptions): Promise<boolean> {
  const { engine, io } = o;
  const stableMs = o.stableMs ?? Math.min(5000, o.healthTimeoutMs);
  // Keep each previous image reachable by a tag of its own until this succeeded.
  const kept = new Map<string, string>(); // previous image id -> keep tag
  for (const t of o.targets) {
    if (!t.previous || kept.has(t.previous.id)) continue;
    const tag = keepTag(t.ref, t.previous.id);
    try {
      await engine.tagImage(t.previous.id, tag);
      kept.set(t.previous.id, tag);
    } catch (e) {
      io.line(`Could not keep the previous image of ${t.service} (${describeError(e)}): no rollback for it`);
    }
  }
  const names = o.targets.map((t) => t.service);
  io.line(`${o.what === 'pull' ? 'Recreating' : 'Applying'} ${names.join(', ')}`, 'info');
  const first = await recreateAndWait(o, names, false, stableMs);
  if (first.failed.length === 0) {
    for (const t of o.targets)
      io.line(
        t.previous
          ? `${t.service}: ${short(t.previous.digest ?? t.previous.id)} -> ${short(imageName(t.next))}`
          : `${t.service}: ${t.note ?? 'recreated'}`,
      );
    io.line(`All recreated services are up.`, 'info');
    await cleanUp(o, kept);
    return true;
  }
  const lines = [`Not healthy after the ${o.what}: ${first.failed.map(failure).join('; ')}`];
  io.line(lines[0]!, 'info');
  const title = `${o.what === 'pull' ? 'Pull' : 'Up'} of ${o.site} failed`;
  if (!o.rollback || io.signal.aborted) {
    const keptNames = [...kept.values()];
    lines.push(
      o.rollback ? 'Cancelled before a rollback.' : 'Rollback is off (ROLLBACK_ON_FAILURE=false).',
      ...(keptNames.length ? [`Previous image kept as ${keptNames.join(', ')}.`] : []),
    );
    for (const l of lines.slice(1)) io.line(l, 'info');
    o.onFailure?.(title, lines);
    return false;
  }
  // Every service on the tag of a failed one goes back: they share the tag that is moved back.
  const failedRefs = new Set(
    o.targets.filter((t) => first.failed.some((f) => f.service === t.service)).map((t) => t.ref),
  );
  const back = o.targets.filter(
    (t): t is RecreateTarget & { previous: { id: string; digest: string | null } } =>
      failedRefs.has(t.ref) && t.previous !== null && kept.has(t.previous.id),
  );
  for (const f of first.failed) {
    if (back.some((t) => t.service === f.service)) continue;
    const t = o.targets.find((x) => x.service === f.service);
    const why = t?.previous ? 'no previous image kept' : 'its image did not change';
    lines.push(`${f.service}: not rolled back (${why})`);
    io.line(lines.at(-1)!, 'info');
  }
  const moved = new Set<string>();
  for (const t of back) {
    if (moved.has(t.ref)) continue;
    moved.add(t.ref);
    await engine.tagImage(t.previous.id, t.ref);
  }
  if (back.length) {
    io.line(`Rolling back ${back.map((t) => t.service).join(', ')}`, 'info');
    const second = await recreateAndWait(
      o,
      back.map((t) => t.service),
      true,
      stableMs,
    );
    for (const t of back) {
      const bad = second.failed.find((f) => f.service === t.service);
      const text = bad
        ? `${t.service}: rolled back to ${imageName(t.previous)}, but it is not healthy either (${failure(bad)})`
        : `${t.service}: rolled back to ${imageName(t.previous)}`;
      io.line(text, 'info');
      lines.push(text);
    }
    // The previous images carry their own tag again; the keep tags can go (never the image).
    for (const t of back) {
      const tag = kept.get(t.previous.id);
      if (tag) await engine.removeImage(tag).catch(() => undefined);
      kept.delete(t.previous.id);
    }
    if (o.prune) await removeUnused(o, new Set(back.map((t) => t.next.id).filter((x): x is string => !!x)));
    o.onFailure?.(
      second.failed.length ? `${title}; the rollback did not come up healthy` : `${title}; rolled back`,
      lines,
    );
  } else {
    o.onFailure?.(title, lines);
  }
  return false;
}

const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

/** `web (down, exit 1)` */
function failure(f: { service: string; outcome: HealthOutcome | null; error?: string }): string {
  if (!f.outcome) return `${f.service} (${f.error ?? 'no container'})`;
  return `${describeHealth(f.outcome).replace(/^[^:]+: /, `${f.service} (`)})`;
}

/** Recreates `names`, then waits for each one's fresh container; the services that failed. */
async function recreateAndWait(
  o: RecreateSafelyOptions,
  names: string[],
  force: boolean,
  stableMs: number,
): Promise<{ failed: Array<{ service: string; outcome: HealthOutcome | null; error?: string }> }> {
  let error: string | undefined;
  try {
    await o.recreate(names, force);
  } catch (e) {
    if (o.io.signal.aborted) throw e;
    error = describeError(e);
    o.io.line(`compose failed: ${error}`, 'info');
  }
  const containers = (await o.engine.containers(o.site)).filter(
    (c) => c.service && names.includes(c.service),
  );
  const health = await waitHealthy(
    o.engine,
    containers.map((c) => c.id),
    {
      timeoutMs: o.healthTimeoutMs,
      stableMs,
      signal: o.io.signal,
      onSettled: (h) => o.io.line(describeHealth(h)),
    },
  );
  const failed: Array<{ service: string; outcome: HealthOutcome | null; error?: string }> = [];
  for (const name of names) {
    const mine = health.filter((h) => h.service === name);
    if (mine.length === 0) failed.push({ service: name, outcome: null, ...(error ? { error } : {}) });
    const bad = mine.find((h) => !h.ok);
    if (bad) failed.push({ service: name, outcome: bad });
  }
  return { failed };
}

/** After success: the keep tags go, and with `prune` the superseded images nothing uses. */
async function cleanUp(o: RecreateSafelyOptions, kept: Map<string, string>): Promise<void> {
  if (!o.prune) {
    if (kept.size)
      o.io.line(`Previous image kept as ${[...kept.values()].join(', ')} (PRUNE_AFTER_PULL=false).`);
    return;
  }
  for (const [id, tag] of kept) {
    const r = await o.engine.removeImage(tag).catch(() => 'in-use' as const);
    if (r === 'in-use') {
      o.io.line(`Kept superseded image ${short(id)}: a container still uses it.`);
      continue;
    }
    await removeUnused(o, new Set([id]));
  }
}

/** Removes images by id when nothing uses them, saying what went. */
async function removeUnused(o: RecreateSafelyOptions, ids: Set<string>): Promise<void> {
  for (const id of ids) {
    // Only an untagged image: removing by id would also drop a tag someone else relies on.
    const img = await o.engine.localImage(id).catch(() => null);
    if (img?.tags.length) {
      o.io.line(`Kept image ${short(id)}: still tagged ${img.tags.join(', ')}`);
      continue;
    }
    const r = img ? await o.engine.removeImage(id).catch(() => 'in-use' as const) : 'absent';
    if (r === 'removed' || r === 'absent') o.io.line(`Removed unused image ${short(id)}`);
    else o.io.line(`Kept image ${short(id)}: still in use`);
  }
}
