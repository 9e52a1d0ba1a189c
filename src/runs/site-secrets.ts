/**
 * Feeds the secret masker from the managed sites' `.env` files (their project folders, as the
 * live state knows them), each read on the host it is on: this machine's through node:fs, an
 * ssh:// host's over SFTP through that host's one connection (both through {@link HostFs}).
 * Read before every run, with an mtime cache, so a changed password is masked from the next run
 * on; a site that is gone drops its values.
 *
 * A remote host never holds up a run: its reads get a deadline, a host whose last reads are still
 * pending is not waited for again, and a read that fails or times out keeps the values that host's
 * sites had (a value once masked stays masked until its file is read again or the site is gone).
 */
import { posix } from 'node:path';
import { describeError } from '../core/errors.js';
import type { LiveState } from '../core/live-state.js';
import type { Logger } from '../core/ports.js';
import { envSecrets, type SecretMasker } from '../core/secret-mask.js';
import type { SshConnection } from '../docker/ssh-connection.js';
import { type HostFs, localAccess, sshAccess } from '../provision/host-access.js';

/** Where one host's site files are read. */
export interface SiteFilesHost {
  fs: HostFs;
  /** The host's sites folder: a site without a known project folder is looked for here. */
  root: string | null;
  /** The longest a refresh waits for this host's reads (none for this machine). */
  deadlineMs?: number;
}

/** The longest a refresh waits for an ssh:// host's `.env` reads (or the engine call deadline, if shorter). */
export const REMOTE_READ_DEADLINE_MS = 2000;

/**
 * How each host's site files are read: an ssh:// host's over its connection's SFTP (its sites
 * folder from SITES_ROOTS), every other host's on this machine (SITES_ROOT), as before.
 */
export function siteFilesHosts(
  hosts: {
    readonly ssh: ReadonlyMap<string, SshConnection>;
    readonly sitesRoots: ReadonlyMap<string, string>;
  },
  o: { sitesRoot: string | null; callTimeoutMs: number },
): (host: string) => SiteFilesHost {
  const deadlineMs = Math.min(o.callTimeoutMs, REMOTE_READ_DEADLINE_MS);
  const local: SiteFilesHost = { fs: localAccess().fs, root: o.sitesRoot };
  const remote = new Map<string, SiteFilesHost>();
  for (const [name, conn] of hosts.ssh)
    remote.set(name, {
      fs: sshAccess(conn).fs,
      root: hosts.sitesRoots.get(name) ?? null,
      deadlineMs,
    });
  return (host) => remote.get(host) ?? local;
}

/** After this long past their deadline, a host's reads are taken for stuck and started again. */
const STUCK_AFTER_MS = 60_000;

/** Keeps the masker's `site:*` sources in step with the sites' `.env` files. */
export class SiteEnvSecrets {
  /** Cache per `host\0file`. */
  private readonly seen = new Map<string, { mtimeMs: number; size: number }>();
  private readonly sources = new Map<string, string>();
  /** Each remote host's running reads and when their deadline ends (epoch ms). */
  private readonly pending = new Map<string, { reads: Promise<void>; until: number; warned: boolean }>();

  constructor(
    private readonly o: {
      masker: SecretMasker;
      state: LiveState;
      logger: Logger;
      /** How a host's files are read; null: the host's files cannot be read (its sites are skipped). */
      hostFiles: (host: string) => SiteFilesHost | null;
    },
  ) {}

  /**
   * Reads the `.env` of every site the live state knows, or of `only` that host's sites
   * (unchanged files are skipped); the other hosts' values stay masked as last read.
   */
  async refresh(only?: string): Promise<void> {
    const files = new Set<string>();
    const byHost = new Map<string, { host: SiteFilesHost; files: Array<[string, string]> }>();
    for (const h of this.o.state.snapshot().hosts) {
      if (only !== undefined && h.name !== only) continue;
      const host = this.o.hostFiles(h.name);
      if (!host) continue;
      const list: Array<[string, string]> = [];
      for (const s of h.sites) {
        const dir = s.projectDir ?? (host.root ? posix.join(host.root, s.name) : null);
        if (!dir) continue;
        const file = posix.join(dir, '.env');
        const source = `site:${s.key}`;
        files.add(`${h.name}\0${file}`);
        list.push([file, source]);
      }
      byHost.set(h.name, { host, files: list });
    }
    await Promise.all([...byHost].map(([name, { host, files: list }]) => this.readHost(name, host, list)));
    for (const key of [...this.seen.keys()])
      if (!files.has(key) && (only === undefined || key.startsWith(`${only}\0`))) {
        this.seen.delete(key);
        this.o.masker.set(this.sources.get(key) ?? `file:${key}`, []);
      }
  }

  /** Reads one host's files, within its deadline. */
  private async readHost(name: string, host: SiteFilesHost, list: Array<[string, string]>): Promise<void> {
    const readAll = () =>
      Promise.all(list.map(([file, source]) => this.read(name, host.fs, file, source))).then(() => undefined);
    if (host.deadlineMs === undefined) return readAll();
    // Reads already running (another refresh at the same time, or a host that is slow): share
    // them, within what is left of their deadline; past it, keep what is known and go on.
    let inflight = this.pending.get(name);
    // Reads that never ended (a connection that hangs without dropping) are left behind.
    if (inflight && Date.now() > inflight.until + STUCK_AFTER_MS) inflight = undefined;
    if (!inflight) {
      const reads = readAll();
      inflight = { reads, until: Date.now() + host.deadlineMs, warned: false };
      this.pending.set(name, inflight);
      const mine = inflight;
      void reads.finally(() => {
        if (this.pending.get(name) === mine) this.pending.delete(name);
      });
    }
    const left = inflight.until - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      inflight.reads.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), left);
        timer.unref?.();
      }),
    ]);
    clearTimeout(timer);
    if (!timedOut || inflight.warned) return;
    inflight.warned = true;
    this.o.logger.warn(
      { host: name, deadlineMs: host.deadlineMs },
      'reading site .env files for masking timed out; the last known values stay masked',
    );
  }

  private async read(hostName: string, fs: HostFs, file: string, source: string): Promise<void> {
    const key = `${hostName}\0${file}`;
    this.sources.set(key, source);
    try {
      const st = await fs.stat(file);
      if (!st) {
        this.seen.delete(key);
        this.o.masker.set(source, []);
        return;
      }
      const before = this.seen.get(key);
      if (before && before.mtimeMs === st.mtimeMs && before.size === st.size) return;
      const text = await fs.readFile(file);
      this.seen.set(key, { mtimeMs: st.mtimeMs, size: st.size });
      this.o.masker.set(source, envSecrets(text));
    } catch (e) {
      // Unreadable or the host did not answer: what was masked stays masked (the cache is only
      // updated by a read that succeeded, so the file is read again next time).
      this.o.logger.warn(
        { host: hostName, file, err: describeError(e) },
        'could not read a site .env for masking; its last known values stay masked',
      );
    }
  }
}
