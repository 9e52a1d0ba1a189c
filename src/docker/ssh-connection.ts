/**
 * One SSH connection per remote Docker host (ssh2), and the Docker API over it.
 *
 * The host key is checked against the pinned fingerprint (DOCKER_SSH_HOST_KEYS) and nothing else:
 * no system `ssh`, no known_hosts file. The Docker API travels as OpenSSH stream-local forwards
 * (`direct-streamlocal@openssh.com`) to the engine's unix socket on that host, one channel per
 * HTTP connection of a keep-alive agent, all inside the one SSH connection. Forwards are not
 * sessions, so sshd's MaxSessions does not limit them.
 *
 * A lost connection is opened again on the next use; after a failure the next attempt waits a
 * backoff (doubling up to a cap), and until then every use fails at once with the last reason, so
 * commands for an unreachable host answer immediately. ssh2 keepalives find a dead peer.
 */

import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { inspect } from 'node:util';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { formatFingerprint } from '../core/backup.js';
import { describeError, SiteFlowError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';

/** Where a remote host's connection stands. */
export type SshHostState =
  | 'idle'
  | 'connecting'
  | 'ready'
  | 'unreachable'
  | 'host-key-changed'
  | 'auth-failed';

/** Options of an SshConnection. */
export interface SshConnectionOptions {
  /** The host's name in DOCKER_HOSTS (`edge`). */
  name: string;
  host: string;
  port: number;
  username: string;
  /** Pinned `SHA256:<base64>` fingerprint; any other host key is refused. */
  hostKey: string;
  /** A private key (DOCKER_SSH_KEY_PATH's content). */
  privateKey?: Buffer | string;
  /** An ssh-agent socket path (SSH_AUTH_SOCK), used when no private key is given. */
  agent?: string;
  /** The Docker engine's unix socket on that host (default /var/run/docker.sock). */
  remoteSocket?: string;
  /** How long connecting, key exchange and login may take (default 10 s). */
  readyTimeoutMs?: number;
  /** SSH keepalive interval (default 15 s); three unanswered ones drop the connection. */
  keepaliveMs?: number;
  /** First and longest wait before a new attempt after a failure (default 1 s and 10 s). */
  backoffMs?: { min: number; max: number };
  /** The clock (milliseconds). */
  now?: () => number;
  logger?: Logger;
}

/** The default engine socket on a remote host. */
export const DEFAULT_REMOTE_SOCKET = '/var/run/docker.sock';

/** `SHA256:<base64>` of a raw SSH public key blob, as `ssh-keygen -lf` prints it. */
export function sshKeyFingerprint(keyBlob: Buffer): string {
  return formatFingerprint(createHash('sha256').update(keyBlob).digest('base64'));
}

/** An ssh2 `hostVerifier` that accepts only the host key with the pinned SHA256 fingerprint. */
export function sshHostVerifier(pinned: string): (key: Buffer) => boolean {
  const want = pinned.trim().replace(/=+$/, '');
  return (key: Buffer) => Buffer.isBuffer(key) && sshKeyFingerprint(key) === want;
}

/** The first line of an error's message (ssh2 messages carry no key material). */
function firstLine(e: unknown): string {
  return describeError(e).slice(0, 200);
}

/**
 * Gives an ssh2 channel the socket methods Node's http client and keep-alive agent call
 * (setKeepAlive, setNoDelay, setTimeout, ref, unref): a channel has no TCP options of its own.
 */
function asSocket(ch: ClientChannel): Duplex {
  const s = ch as unknown as Record<string, unknown>;
  for (const m of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref'])
    if (typeof s[m] !== 'function') s[m] = () => ch;
  return ch;
}

/** One ssh2 connection to a remote Docker host, opened on demand and kept open. */
export class SshConnection {
  readonly name: string;
  private readonly o: SshConnectionOptions;
  private readonly now: () => number;
  private client: Client | null = null;
  private opening: Promise<Client> | null = null;
  private stateNow: SshHostState = 'idle';
  private lastError: SiteFlowError | null = null;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  private httpAgent: http.Agent | null = null;
  private sftpSession: Promise<SFTPWrapper> | null = null;

  constructor(o: SshConnectionOptions) {
    this.name = o.name;
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  /** The connection's state. */
  get state(): SshHostState {
    return this.stateNow;
  }

  /** Why the last attempt failed (null while connected or never tried). */
  get reason(): string | null {
    return this.lastError?.message ?? null;
  }

  /** `user@host:port`, for messages. */
  get where(): string {
    return `${this.o.username}@${this.o.host}:${this.o.port}`;
  }

  /** The engine socket this connection forwards to. */
  get remoteSocket(): string {
    return this.o.remoteSocket ?? DEFAULT_REMOTE_SOCKET;
  }

  /**
   * The open connection, connecting first if needed. During the backoff after a failure it
   * throws that failure again at once (DOCKER_UNREACHABLE, with the reason).
   */
  async connect(): Promise<Client> {
    if (this.closed) throw new SiteFlowError('DOCKER_UNREACHABLE', `host ${this.name}: SiteFlow is stopping`);
    if (this.client) return this.client;
    if (this.opening) return this.opening;
    if (this.lastError && this.now() < this.retryAt) throw this.lastError;
    this.opening = this.open().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** An http.Agent whose connections are stream-local forwards to the engine socket over this connection. */
  agent(): http.Agent {
    if (this.httpAgent) return this.httpAgent;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 4 });
    // docker-modem runs util.inspect(options, { showHidden: true, depth: null }) on every request,
    // debug on or not. Its options hold this agent, whose pooled sockets are ssh2 channels that
    // reach the whole ssh2 Client: that walk took seconds of CPU per request and grew with the
    // pool (the ~2 s per /restart lost on an ssh:// host). Shown as one short line instead.
    Object.defineProperty(agent, inspect.custom, {
      value: () => `[SSH agent of host ${this.name}]`,
      enumerable: false,
    });
    const createConnection = (_opts: unknown, cb: (err: Error | null, s?: Duplex) => void) => {
      this.connect().then(
        (client) => {
          try {
            client.openssh_forwardOutStreamLocal(this.remoteSocket, (err, ch) => {
              if (err) cb(this.channelError(err));
              else cb(null, asSocket(ch));
            });
          } catch (e) {
            cb(this.channelError(e));
          }
        },
        (e: Error) => cb(e),
      );
      return undefined;
    };
    (agent as unknown as { createConnection: typeof createConnection }).createConnection = createConnection;
    this.httpAgent = agent;
    return agent;
  }

  /**
   * Runs `command` (a POSIX shell line, see shell-quote.ts) on the host in an exec channel,
   * streaming its output. On abort or timeout the remote process gets TERM, then KILL after
   * `killGraceMs`, and the channel is closed. Resolves when the channel closes.
   */
  async exec(
    command: string,
    o: {
      onStdout?: (chunk: Buffer) => void;
      onStderr?: (chunk: Buffer) => void;
      signal?: AbortSignal;
      timeoutMs?: number;
      killGraceMs?: number;
    } = {},
  ): Promise<{ code: number | null; signal: string | null; killed: 'abort' | 'timeout' | null }> {
    o.signal?.throwIfAborted();
    const client = await this.connect();
    const ch = await new Promise<ClientChannel>((resolve, reject) => {
      try {
        client.exec(command, (err, channel) =>
          err ? reject(this.channelError(err, 'exec')) : resolve(channel),
        );
      } catch (e) {
        reject(this.channelError(e, 'exec'));
      }
    });
    return new Promise((resolve) => {
      let killed: 'abort' | 'timeout' | null = null;
      let code: number | null = null;
      let sig: string | null = null;
      let killTimer: ReturnType<typeof setTimeout> | undefined;
      const stop = (why: 'abort' | 'timeout') => {
        if (killed) return;
        killed = why;
        ch.signal('TERM');
        killTimer = setTimeout(() => {
          ch.signal('KILL');
          ch.close();
        }, o.killGraceMs ?? 5_000);
      };
      const onAbort = () => stop('abort');
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = o.timeoutMs !== undefined ? setTimeout(() => stop('timeout'), o.timeoutMs) : undefined;
      ch.on('data', (c: Buffer) => o.onStdout?.(c));
      ch.stderr.on('data', (c: Buffer) => o.onStderr?.(c));
      ch.on('exit', (c: number | null, s?: string) => {
        code = typeof c === 'number' ? c : null;
        sig = s ? `SIG${s}` : null;
      });
      ch.once('close', () => {
        o.signal?.removeEventListener('abort', onAbort);
        if (timer) clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        resolve({ code, signal: sig, killed });
      });
    });
  }

  /**
   * A TCP stream to `host:port` as seen from the remote host (`direct-tcpip` over this connection),
   * e.g. a Caddy admin API that listens only on that host's loopback. It is never exposed here.
   */
  async forwardOut(host: string, port: number): Promise<Duplex> {
    const client = await this.connect();
    return new Promise((resolve, reject) => {
      try {
        client.forwardOut('127.0.0.1', 0, host, port, (err, ch) =>
          err ? reject(this.channelError(err, 'forward')) : resolve(asSocket(ch)),
        );
      } catch (e) {
        reject(this.channelError(e, 'forward'));
      }
    });
  }

  /** The connection's SFTP session (opened once per connection). */
  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= this.connect().then(
      (client) =>
        new Promise<SFTPWrapper>((resolve, reject) => {
          const fail = (e: unknown) => {
            this.sftpSession = null;
            reject(this.channelError(e, 'sftp'));
          };
          try {
            client.sftp((err, sftp) => {
              if (err) return fail(err);
              sftp.once('close', () => {
                this.sftpSession = null;
              });
              resolve(sftp);
            });
          } catch (e) {
            fail(e);
          }
        }),
      (e: unknown) => {
        this.sftpSession = null;
        throw e;
      },
    );
    return this.sftpSession;
  }

  /** Ends the connection and refuses further use. */
  close(): void {
    this.closed = true;
    this.httpAgent?.destroy();
    this.client?.end();
    this.client?.destroy();
    this.client = null;
  }

  private channelError(e: unknown, what: 'docker' | 'exec' | 'sftp' | 'forward' = 'docker'): SiteFlowError {
    const refused = { exec: 'to run a command', sftp: 'SFTP', forward: 'a port forward' } as const;
    const message =
      what === 'docker'
        ? `host ${this.name}: the Docker socket ${this.remoteSocket} cannot be opened over SSH (${firstLine(e)}); is ${this.o.username} in the docker group there?`
        : `host ${this.name}: the SSH server refused ${refused[what]} (${firstLine(e)})`;
    return new SiteFlowError(
      'DOCKER_UNREACHABLE',
      message,
      { host: this.name, errno: 'SSH_CHANNEL' },
      { cause: e },
    );
  }

  private fail(state: SshHostState, message: string, cause?: unknown): SiteFlowError {
    const e = new SiteFlowError(
      'DOCKER_UNREACHABLE',
      message,
      { host: this.name, sshState: state },
      cause === undefined ? undefined : { cause },
    );
    this.failures += 1;
    const { min, max } = this.o.backoffMs ?? { min: 1000, max: 10_000 };
    this.retryAt = this.now() + Math.min(max, min * 2 ** (this.failures - 1));
    if (this.stateNow !== state || this.lastError?.message !== message)
      this.o.logger?.warn(
        { host: this.name, state, reason: message },
        'SSH connection to Docker host failed',
      );
    this.stateNow = state;
    this.lastError = e;
    return e;
  }

  private open(): Promise<Client> {
    const client = new Client();
    const pinned = this.o.hostKey;
    const verify = sshHostVerifier(pinned);
    let offered: string | null = null;
    let refused = false;
    const timeoutMs = this.o.readyTimeoutMs ?? 10_000;
    this.stateNow = 'connecting';
    const config: ConnectConfig = {
      host: this.o.host,
      port: this.o.port,
      username: this.o.username,
      readyTimeout: timeoutMs,
      keepaliveInterval: this.o.keepaliveMs ?? 15_000,
      keepaliveCountMax: 3,
      // The pin is the only trust: ssh2 reads no known_hosts, and this verifier decides alone.
      hostVerifier: (key: Buffer) => {
        offered = sshKeyFingerprint(key);
        refused = !verify(key);
        return !refused;
      },
      ...(this.o.privateKey
        ? { privateKey: this.o.privateKey }
        : this.o.agent
          ? { agent: this.o.agent }
          : {}),
    };
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      const settleFail = (e: SiteFlowError) => {
        if (settled) return;
        settled = true;
        client.destroy();
        reject(e);
      };
      client.on('error', (e: Error & { level?: string; code?: string }) => {
        if (settled) {
          // A failure of an open connection (keepalive timeout, reset): 'close' follows.
          this.o.logger?.warn(
            { host: this.name, reason: firstLine(e) },
            'SSH connection to Docker host lost',
          );
          return;
        }
        if (refused)
          settleFail(
            this.fail(
              'host-key-changed',
              `host ${this.name}: host key changed: ${this.where} presented ${offered}, but DOCKER_SSH_HOST_KEYS pins ${pinned}; refusing to connect (if the key really changed, check it on the host and update the pin)`,
            ),
          );
        else if (e.level === 'client-authentication')
          settleFail(
            this.fail(
              'auth-failed',
              `host ${this.name}: authentication failed: ${this.where} refused the ${this.o.privateKey ? 'key of DOCKER_SSH_KEY_PATH' : 'ssh-agent keys'}`,
            ),
          );
        else if (e.level === 'client-timeout')
          settleFail(
            this.fail(
              'unreachable',
              `host ${this.name}: host unreachable: no SSH answer from ${this.where} within ${Math.round(timeoutMs / 1000)} s`,
            ),
          );
        else
          settleFail(
            this.fail(
              'unreachable',
              `host ${this.name}: host unreachable: SSH to ${this.where} failed (${e.code ?? firstLine(e)})`,
              e,
            ),
          );
      });
      client.on('ready', () => {
        if (this.closed) {
          settleFail(new SiteFlowError('DOCKER_UNREACHABLE', `host ${this.name}: SiteFlow is stopping`));
          return;
        }
        settled = true;
        if (this.stateNow !== 'ready' && this.failures > 0)
          this.o.logger?.info({ host: this.name }, 'SSH connection to Docker host open again');
        this.failures = 0;
        this.lastError = null;
        this.stateNow = 'ready';
        this.client = client;
        resolve(client);
      });
      client.on('close', () => {
        if (!settled)
          settleFail(
            this.fail(
              'unreachable',
              `host ${this.name}: host unreachable: ${this.where} closed the connection`,
            ),
          );
        if (this.client === client) {
          this.client = null;
          this.sftpSession = null;
          // Pooled channels died with the connection; the next request opens a new one.
          this.httpAgent?.destroy();
          if (!this.closed) {
            this.fail(
              'unreachable',
              `host ${this.name}: host unreachable: the SSH connection to ${this.where} was lost`,
            );
            // A lost connection is tried again on the next use, without waiting.
            this.retryAt = 0;
          }
        }
      });
      try {
        client.connect(config);
      } catch (e) {
        // ssh2 throws synchronously for a key it cannot parse; the message names no key material.
        settleFail(
          this.fail('auth-failed', `host ${this.name}: the SSH key cannot be used (${firstLine(e)})`),
        );
      }
    });
  }
}
