/**
 * BackupProbe over SSH with ssh2: one connection per probe, the server's host key checked
 * against a pinned SHA256 fingerprint before anything is sent, then SFTP opendir/readdir only
 * (no shell, no exec, no reads of file contents). Connection problems come back as a
 * ProbeFailure value with their own state; credentials never appear in any message.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import {
  type BackupProbe,
  type BackupTarget,
  DEFAULT_SCAN_LIMITS,
  type DirEntry,
  type FolderScan,
  formatFingerprint,
  type ListDir,
  type ProbeFailure,
  type ProbeResult,
  type ScanLimits,
  scanBackupFolder,
} from '../core/backup.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const SFTP_EOF = 1;
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

/** How the probe reaches the NAS. */
export interface Ssh2BackupProbeOptions {
  host: string;
  port: number;
  username: string;
  /** Path of the private key file (read at each probe, never kept or logged). */
  privateKeyPath?: string;
  /** Password (used when no key is given, or after the key is refused). */
  password?: string;
  /** The pinned host key: `SHA256:<base64>` as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** Time to connect and authenticate (default 15 s). */
  connectTimeoutMs?: number;
  /** Time one SFTP request may take before the NAS counts as unreachable (default 30 s). */
  requestTimeoutMs?: number;
  limits?: ScanLimits;
}

/** `SHA256:<base64>` of an SSH public key blob. */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return formatFingerprint(createHash('sha256').update(keyBlob).digest('base64'));
}

/** Host key fingerprints compare exactly, ignoring a trailing `=` padding some tools print. */
function sameFingerprint(a: string, b: string): boolean {
  return a.replace(/=+$/, '') === b.trim().replace(/=+$/, '');
}

/** Per-probe connection facts. */
interface Conn {
  closed: boolean;
  /** Set when the connection as a whole failed mid-check. */
  fatal: ProbeFailure | null;
}

class ProbeAbort extends Error {
  constructor(readonly failure: ProbeFailure) {
    super(failure.message);
  }
}

/** Probes NAS backup folders over SSH/SFTP with ssh2. */
export class Ssh2BackupProbe implements BackupProbe {
  private readonly limits: ScanLimits;

  constructor(private readonly opts: Ssh2BackupProbeOptions) {
    this.limits = opts.limits ?? DEFAULT_SCAN_LIMITS;
  }

  private get where(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  async probe(targets: readonly BackupTarget[], o: { signal?: AbortSignal } = {}): Promise<ProbeResult> {
    let privateKey: Buffer | undefined;
    if (this.opts.privateKeyPath) {
      try {
        privateKey = await readFile(this.opts.privateKeyPath);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
        return {
          ok: false,
          failure: {
            state: 'error',
            message: `cannot read the NAS private key file NAS_PRIVATE_KEY_PATH (${code})`,
          },
        };
      }
    }
    const client = new Client();
    const conn: Conn = { closed: false, fatal: null };
    try {
      const sftp = await this.connect(client, conn, privateKey, o.signal);
      privateKey = undefined;
      const list = this.lister(sftp, client, conn, o.signal);
      const folders = new Map<string, FolderScan>();
      for (const t of targets) {
        if (o.signal?.aborted) return { ok: false, failure: { state: 'error', message: 'check cancelled' } };
        const scan = await scanBackupFolder(list, t.path, this.limits);
        // A timeout or a lost connection shows in the walk as one folder's failure: it is everyone's.
        if (conn.fatal) return { ok: false, failure: conn.fatal };
        if (conn.closed)
          return {
            ok: false,
            failure: {
              state: 'unreachable',
              message: `the NAS at ${this.where} closed the connection during the check`,
            },
          };
        folders.set(t.site, scan);
      }
      return { ok: true, folders };
    } catch (e) {
      if (e instanceof ProbeAbort) return { ok: false, failure: e.failure };
      return { ok: false, failure: { state: 'error', message: safeMessage(e) } };
    } finally {
      client.end();
      client.destroy();
    }
  }

  /** Connects, verifies the host key, authenticates and opens SFTP. Throws ProbeAbort. */
  private connect(
    client: Client,
    conn: Conn,
    privateKey: Buffer | undefined,
    signal?: AbortSignal,
  ): Promise<SFTPWrapper> {
    const expected = this.opts.hostKeyFingerprint;
    let offered: string | null = null;
    const timeoutMs = this.opts.connectTimeoutMs ?? 15_000;
    return new Promise<SFTPWrapper>((resolve, reject) => {
      let settled = false;
      const fail = (f: ProbeFailure) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        reject(new ProbeAbort(f));
      };
      const onAbort = () => {
        fail({ state: 'error', message: 'check cancelled' });
        client.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      client.on('close', () => {
        conn.closed = true;
        fail({ state: 'unreachable', message: `the NAS at ${this.where} closed the connection` });
      });
      client.on('error', (e: Error & { level?: string; code?: string }) => {
        if (offered !== null && !sameFingerprint(offered, expected)) {
          fail({
            state: 'host_key_mismatch',
            message: `the NAS at ${this.where} presented host key ${offered}, but NAS_HOST_KEY pins ${expected}: refusing to connect (if the NAS key really changed, check it and update NAS_HOST_KEY)`,
          });
        } else if (e.level === 'client-authentication') {
          fail({
            state: 'auth_failed',
            message: `the NAS at ${this.where} refused user ${this.opts.username} (${[privateKey ? 'key' : '', this.opts.password ? 'password' : ''].filter(Boolean).join(' and ')} rejected)`,
          });
        } else if (e.level === 'client-timeout') {
          fail({
            state: 'unreachable',
            message: `no SSH answer from ${this.where} within ${Math.round(timeoutMs / 1000)} s`,
          });
        } else if (e.level === 'client-socket' || e.level === 'client-dns') {
          fail({
            state: 'unreachable',
            message: `cannot connect to ${this.where} (${e.code ?? safeMessage(e)})`,
          });
        } else {
          fail({ state: 'unreachable', message: `SSH to ${this.where} failed: ${safeMessage(e)}` });
        }
      });
      client.on('ready', () => {
        // readyTimeout ends at `ready`: a NAS that never answers the SFTP subsystem request
        // would hang the check forever, so opening SFTP gets the connect timeout too.
        const sftpTimer = setTimeout(() => {
          fail({
            state: 'unreachable',
            message: `the NAS at ${this.where} did not open SFTP within ${Math.round(timeoutMs / 1000)} s`,
          });
          client.destroy();
        }, timeoutMs);
        client.sftp((e, sftp) => {
          clearTimeout(sftpTimer);
          if (e) {
            fail({ state: 'error', message: `the NAS at ${this.where} offers no SFTP: ${safeMessage(e)}` });
            return;
          }
          if (settled) {
            sftp.end();
            return;
          }
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve(sftp);
        });
      });
      const config: ConnectConfig = {
        host: this.opts.host,
        port: this.opts.port,
        username: this.opts.username,
        readyTimeout: timeoutMs,
        // A NAS that vanishes mid-check (no FIN, no RST) is noticed instead of waited on forever.
        keepaliveInterval: Math.max(1_000, Math.min(10_000, Math.round(timeoutMs / 3))),
        keepaliveCountMax: 3,
        tryKeyboard: false,
        agent: undefined,
        hostVerifier: (key: Buffer) => {
          offered = sha256Fingerprint(key);
          return sameFingerprint(offered, expected);
        },
        ...(privateKey ? { privateKey } : {}),
        ...(this.opts.password ? { password: this.opts.password } : {}),
      };
      try {
        client.connect(config);
      } catch (e) {
        // ssh2 throws synchronously for a key it cannot parse; the message names no key material.
        fail({
          state: 'error',
          message: /privateKey/i.test(safeMessage(e))
            ? 'NAS_PRIVATE_KEY_PATH holds no usable private key (unsupported format or passphrase-protected)'
            : `cannot start SSH to ${this.where}: ${safeMessage(e)}`,
        });
      }
    });
  }

  /** A ListDir over SFTP: opendir + readdir chunks until EOF or `max` entries. */
  private lister(sftp: SFTPWrapper, client: Client, conn: Conn, signal?: AbortSignal): ListDir {
    const timeoutMs = this.opts.requestTimeoutMs ?? 30_000;
    const call = <T>(
      what: string,
      fn: (cb: (e: (Error & { code?: number }) | undefined, v: T) => void) => void,
    ) =>
      new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          conn.fatal ??= {
            state: 'unreachable',
            message: `the NAS at ${this.where} stopped answering (${what} took over ${Math.round(timeoutMs / 1000)} s)`,
          };
          client.destroy();
          reject(new ProbeAbort(conn.fatal));
        }, timeoutMs);
        fn((e, v) => {
          clearTimeout(timer);
          if (e) reject(e);
          else resolve(v);
        });
      });
    return async (path, max) => {
      if (signal?.aborted) throw new ProbeAbort({ state: 'error', message: 'check cancelled' });
      let handle: Buffer;
      try {
        handle = await call<Buffer>('opendir', (cb) => sftp.opendir(path, cb));
      } catch (e) {
        if (e instanceof ProbeAbort) throw e;
        const code = (e as { code?: number }).code;
        if (code === SFTP_NO_SUCH_FILE) return null;
        if (code === SFTP_PERMISSION_DENIED) throw new Error('permission denied');
        throw new Error(safeMessage(e));
      }
      const entries: DirEntry[] = [];
      let truncated = false;
      try {
        for (;;) {
          let chunk: Awaited<ReturnType<typeof readChunk>>;
          try {
            chunk = await readChunk(call, sftp, handle);
          } catch (e) {
            if ((e as { code?: number }).code === SFTP_EOF) break;
            throw e;
          }
          if (!chunk) break;
          for (const f of chunk) {
            if (entries.length >= max) {
              truncated = true;
              break;
            }
            const a = f.attrs;
            entries.push({
              name: f.filename,
              kind: a.isFile() ? 'file' : a.isDirectory() ? 'dir' : 'other',
              mtimeMs: (a.mtime ?? 0) * 1000,
              size: a.size ?? 0,
            });
          }
          if (truncated) break;
        }
      } catch (e) {
        if (e instanceof ProbeAbort) throw e;
        throw new Error(safeMessage(e));
      } finally {
        await call<void>('close', (cb) => sftp.close(handle, (e) => cb(e ?? undefined, undefined))).catch(
          () => {},
        );
      }
      return { entries, truncated };
    };
  }
}

type Call = <T>(
  what: string,
  fn: (cb: (e: (Error & { code?: number }) | undefined, v: T) => void) => void,
) => Promise<T>;

/** One READDIR on an open handle (ssh2 filters `.` and `..`). */
function readChunk(call: Call, sftp: SFTPWrapper, handle: Buffer) {
  type Entry = Parameters<Parameters<SFTPWrapper['readdir']>[1]>[1][number];
  return call<Entry[] | false>('readdir', (cb) =>
    (sftp.readdir as (h: Buffer, cb: (e: Error | undefined, l: Entry[] | false) => void) => void)(handle, cb),
  );
}

/** The first line of an error's message (ssh2 messages carry no credentials). */
function safeMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return (m.split('\n')[0] ?? m).slice(0, 300);
}
