/**
 * NAS backup checks, the SDK-free part: the BackupProbe port (one connection that lists
 * folders), the bounded walk that finds a site's newest backup through any directory lister,
 * the pure classification into fresh / stale / missing (or a connection failure state), the
 * NAS_BACKUP_MAP parser and the BackupService that commands use. The ssh2 SFTP probe and the
 * checker that schedules and stores results live in src/backup/.
 */

import { NAME_RE } from './command.js';
import type { BackupStatus } from './live-state.js';
import { err, ok, type Result } from './result.js';

/** How a site's backup folder looks after a check. */
export type BackupCheckState =
  | 'fresh'
  | 'stale'
  | 'missing'
  | 'unreachable'
  | 'auth_failed'
  | 'host_key_mismatch'
  | 'error';

/** A connection-level failure: every site of the check gets this state. */
export interface ProbeFailure {
  state: 'unreachable' | 'auth_failed' | 'host_key_mismatch' | 'error';
  /** One clear sentence; never a secret. */
  message: string;
}

/** One directory entry as a lister reports it (symlinks and specials are `other`, never followed). */
export interface DirEntry {
  name: string;
  kind: 'file' | 'dir' | 'other';
  /** Modification time, epoch ms. */
  mtimeMs: number;
  size: number;
}

/**
 * Lists one directory: its entries (at most `max`; `truncated` when there were more), or null
 * when it does not exist. Throws for anything else (permission denied, connection lost).
 */
export type ListDir = (
  path: string,
  max: number,
) => Promise<{ entries: DirEntry[]; truncated: boolean } | null>;

/** Bounds of one site's walk. */
export interface ScanLimits {
  /** Directory levels walked below the site folder (1: only the folder's own entries). */
  maxDepth: number;
  /** Entries read per site folder in total; the walk stops (and says so) beyond it. */
  maxEntries: number;
}

/** Default walk bounds. */
export const DEFAULT_SCAN_LIMITS: ScanLimits = { maxDepth: 4, maxEntries: 5000 };

/** One backup: a top-level entry of the site folder (a file, or a folder of files). */
export interface FoundBackup {
  /** Name of the top-level entry. */
  name: string;
  /** Newest file modification time within it, epoch ms. */
  at: number;
  /** Its size: the file's, or the sum of the files in the folder (within the bounds). */
  sizeBytes: number;
  files: number;
}

/** What a walk of one site folder found. */
export type FolderScan =
  | { kind: 'absent' }
  | { kind: 'scanned'; newest: FoundBackup | null; backups: number; truncated: boolean }
  | { kind: 'failed'; message: string };

/** What a site folder is to be checked, and which hosts run that site. */
export interface BackupTarget {
  site: string;
  /** Absolute folder on the NAS. */
  path: string;
  /** Hosts where the site runs (empty for a site known only from NAS_BACKUP_MAP). */
  hosts: readonly string[];
}

/** The outcome of one probe (one SSH connection for all targets). */
export type ProbeResult =
  | { ok: true; folders: ReadonlyMap<string, FolderScan> }
  | { ok: false; failure: ProbeFailure };

/** The port the checker uses to look at the NAS (Ssh2BackupProbe implements it over SFTP). */
export interface BackupProbe {
  /** Walks each target's folder over one connection; connection problems are a value, not a throw. */
  probe(targets: readonly BackupTarget[], opts?: { signal?: AbortSignal }): Promise<ProbeResult>;
}

/** One site's backup check result, as shown and stored. */
export interface BackupResult {
  site: string;
  path: string;
  hosts: readonly string[];
  state: BackupCheckState;
  /** Epoch ms of the newest backup (kept from the last good check when the NAS did not answer). */
  newestAt: number | null;
  sizeBytes: number | null;
  /** Name of the newest backup entry. */
  newestName: string | null;
  checkedAt: number;
  /** One clear sentence; never a secret. */
  message: string | null;
}

/** A change of a site's backup state (first results count as changes from null). */
export interface BackupChange {
  previous: BackupResult | null;
  current: BackupResult;
}

/** Names Synology, QNAP and macOS put into shares, never backups. */
function ignoredName(name: string): boolean {
  return name.startsWith('.') || name === '@eaDir' || name === '#recycle' || name === '#snapshot';
}

/**
 * Finds the newest backup in `root` with `list`, walking at most `limits.maxDepth` levels and
 * reading at most `limits.maxEntries` entries. Each top-level entry is one backup: a file, or a
 * folder whose time is its newest file's and whose size is the sum of its files. Empty folders,
 * symlinks and NAS housekeeping entries (`@eaDir`, `#recycle`, dot files) are not backups.
 */
export async function scanBackupFolder(
  list: ListDir,
  root: string,
  limits: ScanLimits = DEFAULT_SCAN_LIMITS,
): Promise<FolderScan> {
  let budget = Math.max(1, limits.maxEntries);
  let truncated = false;
  const read = async (path: string) => {
    const r = await list(path, budget);
    if (!r) return null;
    budget -= r.entries.length;
    if (r.truncated) truncated = true;
    return r.entries;
  };
  const join = (a: string, b: string) => (a.endsWith('/') ? `${a}${b}` : `${a}/${b}`);

  /** Newest mtime, total size and file count of a folder, `depth` levels below the root. */
  const walk = async (path: string, depth: number): Promise<{ at: number; size: number; files: number }> => {
    const acc = { at: Number.NEGATIVE_INFINITY, size: 0, files: 0 };
    if (depth > limits.maxDepth || budget <= 0) {
      truncated = true;
      return acc;
    }
    const entries = (await read(path)) ?? [];
    for (const e of entries) {
      if (ignoredName(e.name)) continue;
      if (e.kind === 'file') {
        acc.at = Math.max(acc.at, e.mtimeMs);
        acc.size += e.size;
        acc.files += 1;
      } else if (e.kind === 'dir') {
        const sub = await walk(join(path, e.name), depth + 1);
        acc.at = Math.max(acc.at, sub.at);
        acc.size += sub.size;
        acc.files += sub.files;
      }
    }
    return acc;
  };

  try {
    const top = await read(root);
    if (top === null) return { kind: 'absent' };
    let newest: FoundBackup | null = null;
    let backups = 0;
    const sorted = [...top].sort((a, b) => a.name.localeCompare(b.name));
    for (const e of sorted) {
      if (ignoredName(e.name)) continue;
      let found: FoundBackup | null = null;
      if (e.kind === 'file') found = { name: e.name, at: e.mtimeMs, sizeBytes: e.size, files: 1 };
      else if (e.kind === 'dir') {
        const sub = await walk(join(root, e.name), 2);
        if (sub.files > 0) found = { name: e.name, at: sub.at, sizeBytes: sub.size, files: sub.files };
      }
      if (!found) continue;
      backups += 1;
      if (!newest || found.at > newest.at) newest = found;
    }
    return { kind: 'scanned', newest, backups, truncated };
  } catch (e) {
    return { kind: 'failed', message: e instanceof Error ? e.message : String(e) };
  }
}

/** Options of {@link classifyBackup}. */
export interface ClassifyOptions {
  now: number;
  /** A newest backup older than this is stale. */
  staleAfterMs: number;
}

/** Hours, rounded to one decimal, for messages. */
function hours(ms: number): string {
  const h = ms / 3_600_000;
  return `${Number.isInteger(h) ? h : h.toFixed(1)} h`;
}

/** Judges one folder scan: fresh, stale, missing (absent or empty) or error. Pure. */
export function classifyBackup(target: BackupTarget, scan: FolderScan, opts: ClassifyOptions): BackupResult {
  const base = {
    site: target.site,
    path: target.path,
    hosts: [...target.hosts],
    checkedAt: opts.now,
    newestAt: null,
    sizeBytes: null,
    newestName: null,
  };
  if (scan.kind === 'absent')
    return { ...base, state: 'missing', message: `no backup folder ${target.path} on the NAS` };
  if (scan.kind === 'failed')
    return { ...base, state: 'error', message: `cannot read ${target.path}: ${scan.message}` };
  const note = scan.truncated ? ' (folder too large: only part of it was read)' : '';
  if (!scan.newest) return { ...base, state: 'missing', message: `no backups in ${target.path}${note}` };
  const n = scan.newest;
  const found = { ...base, newestAt: n.at, sizeBytes: n.sizeBytes, newestName: n.name };
  const age = opts.now - n.at;
  if (age > opts.staleAfterMs)
    return {
      ...found,
      state: 'stale',
      message: `newest backup ${n.name} is older than ${hours(opts.staleAfterMs)}${note}`,
    };
  return { ...found, state: 'fresh', message: note ? note.trim() : null };
}

/**
 * The result of a failed connection for one target: the failure's state and message, keeping
 * the newest backup known from the last good check. Pure.
 */
export function failedResult(
  target: BackupTarget,
  failure: ProbeFailure,
  previous: BackupResult | null,
  now: number,
): BackupResult {
  return {
    site: target.site,
    path: target.path,
    hosts: [...target.hosts],
    state: failure.state,
    newestAt: previous?.newestAt ?? null,
    sizeBytes: previous?.sizeBytes ?? null,
    newestName: previous?.newestName ?? null,
    checkedAt: now,
    message: failure.message,
  };
}

/**
 * The live-state slot for a result. Live state knows fresh/stale/missing/error/unknown: the
 * connection failures (unreachable, auth_failed, host_key_mismatch) become `error`, with the
 * precise state leading the message.
 */
export function toBackupStatus(r: BackupResult): BackupStatus {
  const simple = r.state === 'fresh' || r.state === 'stale' || r.state === 'missing' || r.state === 'error';
  return {
    state: simple ? (r.state as BackupStatus['state']) : 'error',
    newestAt: r.newestAt,
    sizeBytes: r.sizeBytes,
    checkedAt: r.checkedAt,
    message: simple ? r.message : `${r.state}: ${r.message ?? ''}`.trim(),
  };
}

/** An absolute POSIX path without `..` segments or control characters. */
const ABS_PATH_RE = /^\/(?:[^\0-\x1f/]+\/?)*$/;

function validPath(p: string): boolean {
  return ABS_PATH_RE.test(p) && !p.split('/').some((s) => s === '..' || s === '.');
}

/**
 * Parses NAS_BACKUP_MAP, `site=/abs/path,other=/abs/path`, into site -> folder. Every bad pair
 * is reported at once; a site may appear only once.
 */
export function parseBackupMap(raw: string): Result<Map<string, string>, string[]> {
  const map = new Map<string, string>();
  const problems: string[] = [];
  for (const part of raw.split(',')) {
    const pair = part.trim();
    if (!pair) continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      problems.push(`"${pair}" is not site=/path`);
      continue;
    }
    const site = pair.slice(0, eq).trim();
    const path = pair.slice(eq + 1).trim();
    if (!NAME_RE.test(site))
      problems.push(`"${site}" is not a site name (lowercase letters, digits, - and _)`);
    else if (!validPath(path)) problems.push(`${site}: "${path}" is not an absolute path`);
    else if (map.has(site)) problems.push(`${site} is mapped twice`);
    else map.set(site, path.length > 1 ? path.replace(/\/+$/, '') : path);
  }
  return problems.length ? err(problems) : ok(map);
}

/** True when `p` is an absolute POSIX path without `.`/`..` segments. */
export function isAbsoluteNasPath(p: string): boolean {
  return validPath(p);
}

/** The folder of a site's backups: its NAS_BACKUP_MAP entry, else `<root>/<site>`. */
export function backupPathFor(site: string, root: string, map: ReadonlyMap<string, string>): string {
  const mapped = map.get(site);
  if (mapped) return mapped;
  return `${root.replace(/\/+$/, '')}/${site}`;
}

/**
 * The SHA256 fingerprint of a public key blob as `ssh-keygen -lf` prints it:
 * `SHA256:` and the unpadded base64 of the digest. `digestBase64` is the padded base64 digest.
 */
export function formatFingerprint(digestBase64: string): string {
  return `SHA256:${digestBase64.replace(/=+$/, '')}`;
}

/** The outcome of an on-demand or scheduled check. */
export interface BackupReport {
  results: BackupResult[];
  /** Set when the NAS could not be reached or refused us (every result carries it too). */
  failure: ProbeFailure | null;
  /** Hosts whose site list could not be read (their sites come from the last check). */
  unlistedHosts: string[];
}

/** What commands use to check backups (BackupChecker implements it). */
export interface BackupService {
  /** Why checks are off (not configured, or misconfigured); null when they are on. */
  readonly disabled: string | null;
  /** Runs a check now: every known site, or only `site`. Null when the site is not known. */
  check(site?: string): Promise<BackupReport | null>;
  /** The last known result of every checked site, by site name. */
  last(): BackupResult[];
}
