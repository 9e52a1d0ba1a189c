/**
 * The machine a site is provisioned on, as the provisioning flow sees it: its files, running a
 * helper program there (caddy, tar), an HTTP request to an address on its loopback (Caddy's
 * admin API, the site's health check) and a free loopback port. One provision, deprovision and
 * crash-undo flow serves every host through this port:
 * - `localAccess`: this machine (node:fs, child processes, fetch);
 * - `sshAccess`: an ssh:// host, all through its one pinned SSH connection (SFTP, exec with every
 *   word quoted for the remote shell, `direct-tcpip` forwards): nothing on it is exposed here.
 */
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import { describeError, SiteFlowError } from '../core/errors.js';
import { checkRemotePath } from '../docker/remote-compose.js';
import { shCommand } from '../docker/shell-quote.js';
import type { SshConnection } from '../docker/ssh-connection.js';
import { runTool, type ToolResult } from './run-tool.js';

/** Files on the host (absolute POSIX paths). */
export interface HostFs {
  /** Whether anything is at `p`; a missing path is false, an unreachable host throws. */
  exists(p: string): Promise<boolean>;
  /** Without `recursive` it fails when `p` exists (a folder is never reused). */
  mkdir(p: string, o?: { mode?: number; recursive?: boolean }): Promise<void>;
  /** Writes `data` with exactly `mode`; `exclusive` fails when the file exists. */
  writeFile(p: string, data: string, o: { mode: number; exclusive?: boolean }): Promise<void>;
  /** Removes `p` (a folder with everything in it when `recursive`); a missing path is fine. */
  rm(p: string, o?: { recursive?: boolean }): Promise<void>;
  /** Modification time (ms; whole seconds over SFTP) and size of `p` (symlinks followed); null when missing. */
  stat(p: string): Promise<{ mtimeMs: number; size: number } | null>;
  /** The content of the file `p` as UTF-8. */
  readFile(p: string): Promise<string>;
}

/** The answer of {@link HostAccess.fetch}. */
export interface HostResponse {
  status: number;
  ok: boolean;
  text(): Promise<string>;
}

/** What provisioning needs of one host. */
export interface HostAccess {
  /** `this machine` or `host edge`, for messages. */
  readonly where: string;
  /** `` here, ` on host edge` for another host: what messages add after a path or address. */
  readonly on: string;
  readonly fs: HostFs;
  /** Runs `cmd args` there (never through a local shell); semantics of runTool. */
  run(
    cmd: string,
    args: readonly string[],
    opts?: { timeoutMs?: number; signal?: AbortSignal; allowFailure?: boolean },
  ): Promise<ToolResult>;
  /** An HTTP request to `url`, an address as seen from that host; redirects are not followed. */
  fetch(
    url: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal },
  ): Promise<HostResponse>;
  /** A TCP port on that host's 127.0.0.1 that nothing listens on. */
  freePort(): Promise<number>;
}

/** A free TCP port on 127.0.0.1, as the OS hands it out. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** This machine. */
export function localAccess(): HostAccess {
  return {
    where: 'this machine',
    on: '',
    fs: {
      async exists(p) {
        try {
          await stat(p);
          return true;
        } catch {
          return false;
        }
      },
      async mkdir(p, o = {}) {
        await mkdir(p, o);
      },
      async writeFile(p, data, o) {
        await writeFile(p, data, { mode: o.mode, ...(o.exclusive ? { flag: 'wx' } : {}) });
        await chmod(p, o.mode); // exactly `mode`, whatever the umask or an existing file's mode
      },
      async rm(p, o = {}) {
        await rm(p, { recursive: o.recursive === true, force: true });
      },
      async stat(p) {
        try {
          const st = await stat(p);
          return { mtimeMs: st.mtimeMs, size: st.size };
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === 'ENOENT' || code === 'ENOTDIR') return null;
          throw e;
        }
      },
      readFile: (p) => readFile(p, 'utf8'),
    },
    run: (cmd, args, opts = {}) => runTool(cmd, args, opts),
    async fetch(url, init = {}) {
      const res = await fetch(url, { ...init, redirect: 'manual' });
      return { status: res.status, ok: res.ok, text: () => res.text() };
    },
    freePort: freeLoopbackPort,
  };
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const SFTP_NO_SUCH_FILE = 2;

function sftpCall<T>(
  what: string,
  host: string,
  fn: (cb: (err: unknown, v?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, v) => {
      if (!err) return resolve(v as T);
      const code = (err as { code?: number }).code;
      const e = new SiteFlowError(
        code === SFTP_NO_SUCH_FILE ? 'PROVISION_NO_SUCH_FILE' : 'PROVISION_REMOTE_FS',
        `host ${host}: SFTP ${what}: ${describeError(err)}`,
        { host, sftpCode: code ?? null },
      );
      reject(e);
    });
  });
}

const isMissing = (e: unknown) => (e as { code?: string }).code === 'PROVISION_NO_SUCH_FILE';

/**
 * The files of an ssh:// host, over its connection's SFTP session; a whole tree is removed by
 * `removeTree` on that host (one `rm -rf` there, not an SFTP round trip per file).
 */
function sftpFs(conn: SshConnection, removeTree: (p: string) => Promise<void>): HostFs {
  const host = conn.name;
  const sftp = () => conn.sftp();
  const lstat = async (s: SFTPWrapper, p: string) =>
    sftpCall<{ isDirectory(): boolean }>(`lstat ${p}`, host, (cb) => s.lstat(p, cb));
  return {
    async exists(p) {
      checkRemotePath(p);
      const s = await sftp();
      try {
        await lstat(s, p);
        return true;
      } catch (e) {
        if (isMissing(e)) return false;
        throw e;
      }
    },
    async mkdir(p, o = {}) {
      checkRemotePath(p);
      const s = await sftp();
      const make = (dir: string) =>
        sftpCall<void>(`mkdir ${dir}`, host, (cb) => s.mkdir(dir, o.mode ? { mode: o.mode } : {}, cb));
      if (!o.recursive) return make(p);
      // Each missing parent in turn; one that exists (as anything) is left as it is.
      const parts = p.split('/').filter(Boolean);
      for (let i = 1; i <= parts.length; i++) {
        const dir = `/${parts.slice(0, i).join('/')}`;
        try {
          await lstat(s, dir);
        } catch (e) {
          if (!isMissing(e)) throw e;
          await make(dir);
        }
      }
    },
    async writeFile(p, data, o) {
      checkRemotePath(p);
      const s = await sftp();
      const handle = await sftpCall<Buffer>(`open ${p}`, host, (cb) =>
        s.open(p, o.exclusive ? 'wx' : 'w', { mode: o.mode }, cb),
      );
      try {
        // Exactly `mode`, whatever the server's umask: set before a byte is written.
        await sftpCall(`chmod ${p}`, host, (cb) => s.fchmod(handle, o.mode, cb));
        const buf = Buffer.from(data, 'utf8');
        if (buf.length)
          await sftpCall(`write ${p}`, host, (cb) => s.write(handle, buf, 0, buf.length, 0, cb));
      } finally {
        await sftpCall(`close ${p}`, host, (cb) => s.close(handle, cb)).catch(() => undefined);
      }
    },
    async rm(p, o = {}) {
      checkRemotePath(p);
      if (o.recursive) return removeTree(p);
      const s = await sftp();
      try {
        await sftpCall(`unlink ${p}`, host, (cb) => s.unlink(p, cb));
      } catch (e) {
        if (!isMissing(e)) throw e;
      }
    },
    async stat(p) {
      checkRemotePath(p);
      const s = await sftp();
      try {
        const st = await sftpCall<{ mtime: number; size: number }>(`stat ${p}`, host, (cb) => s.stat(p, cb));
        return { mtimeMs: st.mtime * 1000, size: st.size };
      } catch (e) {
        if (isMissing(e)) return null;
        throw e;
      }
    },
    async readFile(p) {
      checkRemotePath(p);
      const s = await sftp();
      const buf = await sftpCall<Buffer>(`read ${p}`, host, (cb) => s.readFile(p, cb));
      return buf.toString('utf8');
    },
  };
}

/** Lowest and highest port {@link HostAccess.freePort} tries on a remote host. */
const REMOTE_PORTS = { min: 20_000, max: 59_999 };

/** An ssh:// host, through its one SSH connection. */
export function sshAccess(conn: SshConnection): HostAccess {
  const maxOutput = 4 * 1024 * 1024;
  const access: HostAccess = {
    where: `host ${conn.name}`,
    on: ` on host ${conn.name}`,
    // `rm -rf` is quiet about a path that is not there, as rm() is.
    fs: sftpFs(conn, async (p) => {
      await access.run('rm', ['-rf', '--', p]);
    }),
    async run(cmd, args, opts = {}) {
      let stdout = '';
      let stderr = '';
      const name = `${cmd}${args[0] ? ` ${args[0]}` : ''}`;
      let exit: Awaited<ReturnType<SshConnection['exec']>>;
      try {
        exit = await conn.exec(shCommand([cmd, ...args]), {
          onStdout: (d) => {
            if (stdout.length < maxOutput) stdout += d.toString('utf8');
          },
          onStderr: (d) => {
            if (stderr.length < maxOutput) stderr += d.toString('utf8');
          },
          timeoutMs: opts.timeoutMs ?? 60_000,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } catch (e) {
        throw new SiteFlowError(
          'PROVISION_TOOL',
          `${name} on host ${conn.name}: cannot run: ${describeError(e)}`,
        );
      }
      if (exit.killed)
        throw new SiteFlowError(
          'PROVISION_TOOL',
          `${name} on host ${conn.name}: ${exit.killed === 'timeout' ? 'timed out' : 'cancelled'}`,
        );
      const code = exit.code;
      if (code !== 0 && !opts.allowFailure) {
        const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-5).join('\n');
        throw new SiteFlowError(
          'PROVISION_TOOL',
          `${name} on host ${conn.name} exited with ${code ?? exit.signal}: ${tail}`,
        );
      }
      return { code, stdout, stderr };
    },
    fetch(url, init = {}) {
      const u = new URL(url);
      if (u.protocol !== 'http:')
        return Promise.reject(
          new SiteFlowError(
            'INPUT_INVALID',
            `host ${conn.name}: only http:// is forwarded, not ${u.protocol}`,
          ),
        );
      const target = u.hostname.replace(/^\[|\]$/g, '');
      const port = Number(u.port || 80);
      return new Promise<HostResponse>((resolve, reject) => {
        const req = http.request(
          url,
          {
            method: init.method ?? 'GET',
            headers: init.headers ?? {},
            ...(init.signal ? { signal: init.signal } : {}),
            // Every request is its own `direct-tcpip` channel inside the one SSH connection.
            createConnection: ((_o: unknown, cb: (err: Error | null, s?: Duplex) => void) => {
              conn.forwardOut(target, port).then(
                (s) => cb(null, s),
                (e: Error) => cb(e),
              );
              return undefined;
            }) as unknown as http.RequestOptions['createConnection'],
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            const body = new Promise<string>((ok, bad) => {
              res.once('end', () => ok(Buffer.concat(chunks).toString('utf8')));
              res.once('error', bad);
            });
            body.catch(() => undefined);
            const status = res.statusCode ?? 0;
            resolve({ status, ok: status >= 200 && status < 300, text: () => body });
          },
        );
        req.once('error', reject);
        req.end(init.body);
      });
    },
    async freePort() {
      // A port nothing on the host answers on: its forward is refused. Another program may take it
      // before compose does, as with a local free port; compose then fails and the provision undoes.
      for (let i = 0; i < 20; i++) {
        const p = REMOTE_PORTS.min + Math.floor(Math.random() * (REMOTE_PORTS.max - REMOTE_PORTS.min));
        const s = await conn.forwardOut('127.0.0.1', p).catch((e: unknown) => {
          if ((e as { details?: { errno?: string } }).details?.errno === 'SSH_CHANNEL') return null;
          throw e;
        });
        if (!s) return p;
        s.destroy();
      }
      throw new SiteFlowError('PROVISION_NO_PORT', `host ${conn.name}: no free loopback port found`);
    },
  };
  return access;
}
