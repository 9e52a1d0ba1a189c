/**
 * The Docker hosts registry: parses DOCKER_HOSTS (`local=unix:///var/run/docker.sock,
 * nas=tcp://10.0.0.5:2376,edge=ssh://deploy@edge`) into named DockerodeEngine instances, each
 * behind the site scope. Which site a user's `host/site` names is decided in one place,
 * `findSite` in ../services.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { NAME_RE } from '../core/command.js';
import { HOST_ANSWER_MS, settleWithin } from '../core/deadline.js';
import type { Compose, Engine, HostRegistry, SiteInfo } from '../core/engine.js';
import { describeError, isSiteFlowError, SiteFlowError } from '../core/errors.js';
import { isLoopbackHost } from '../core/net.js';
import type { Logger } from '../core/ports.js';
import { err, ok, type Result } from '../core/result.js';
import { DockerodeEngine } from './dockerode-engine.js';
import { ComposeRouter, RemoteCompose, SftpSiteFolders } from './remote-compose.js';
import { ScopedEngine, type ScopeMode, SiteScope } from './site-scope.js';
import { SshConnection, sshHostVerifier, sshKeyFingerprint } from './ssh-connection.js';

/** The default when DOCKER_HOSTS is unset. */
export const DEFAULT_DOCKER_HOSTS = 'local=unix:///var/run/docker.sock';

/** One parsed DOCKER_HOSTS entry. */
export type HostSpec =
  | { name: string; url: string; kind: 'unix'; socketPath: string }
  | { name: string; url: string; kind: 'tcp'; host: string; port: number }
  | {
      name: string;
      url: string;
      kind: 'ssh';
      host: string;
      port: number;
      username: string | null;
      /** The engine's unix socket on that host (`?socket=/path`); default /var/run/docker.sock. */
      socket?: string;
    };

/** Parses one URL of DOCKER_HOSTS. */
function parseUrl(name: string, url: string): Result<HostSpec> {
  if (url.startsWith('unix://')) {
    const socketPath = url.slice('unix://'.length);
    if (!socketPath.startsWith('/'))
      return err(`${name}: a unix socket needs an absolute path (unix:///path)`);
    return ok({ name, url, kind: 'unix', socketPath });
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return err(`${name}: not a URL: ${url}`);
  }
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  if (!hostname) return err(`${name}: no host in ${url}`);
  const socket = u.protocol === 'ssh:' ? u.searchParams.get('socket') : null;
  const onlySocket = u.protocol === 'ssh:' && [...u.searchParams.keys()].every((k) => k === 'socket');
  if ((u.pathname && u.pathname !== '/') || (u.search && !onlySocket) || u.hash)
    return err(`${name}: unexpected path or query in ${url}`);
  if (u.protocol === 'tcp:') {
    if (u.username || u.password) return err(`${name}: tcp:// takes no user (use TLS files)`);
    const port = Number(u.port || 2375);
    return ok({ name, url, kind: 'tcp', host: hostname, port });
  }
  if (u.protocol === 'ssh:') {
    if (u.password) return err(`${name}: never put a password in DOCKER_HOSTS; use an SSH key or agent`);
    if (socket !== null && !/^\/[A-Za-z0-9._/-]+$/.test(socket))
      return err(`${name}: ?socket= takes the absolute path of the engine's unix socket on that host`);
    return ok({
      name,
      url,
      kind: 'ssh',
      host: hostname,
      port: Number(u.port || 22),
      username: u.username ? decodeURIComponent(u.username) : null,
      ...(socket ? { socket } : {}),
    });
  }
  return err(`${name}: unsupported scheme ${u.protocol}// (use unix://, tcp:// or ssh://)`);
}

/**
 * Parses DOCKER_HOSTS: comma-separated `name=url` entries, or one bare URL (then named `local`).
 * Empty or unset means the local socket. Every problem is reported at once.
 */
export function parseDockerHosts(raw: string | undefined | null): Result<HostSpec[], string[]> {
  const text = raw?.trim() ? raw.trim() : DEFAULT_DOCKER_HOSTS;
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const problems: string[] = [];
  const specs: HostSpec[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const m = /^([^=:/]+)=(.+)$/.exec(entry);
    if (!m && entries.length > 1) {
      problems.push(`"${entry}": with several hosts, each needs a name (name=url)`);
      continue;
    }
    const name = m ? m[1]!.trim() : 'local';
    const url = m ? m[2]!.trim() : entry;
    if (!NAME_RE.test(name)) {
      problems.push(`"${name}": a host name is a lowercase name (letters, digits, - and _)`);
      continue;
    }
    if (seen.has(name)) {
      problems.push(`"${name}" is given twice`);
      continue;
    }
    seen.add(name);
    const r = parseUrl(name, url);
    if (r.ok) specs.push(r.value);
    else problems.push(r.error);
  }
  return problems.length ? err(problems) : ok(specs);
}

/** An absolute path of plain characters (letters, digits, . _ - /) without `..`, or why not. */
export function checkHostPath(path: string): string | null {
  if (!/^\/[A-Za-z0-9._/-]*$/.test(path) || path.split('/').includes('..'))
    return 'expected an absolute path (letters, digits, . _ - /)';
  return null;
}

/**
 * Parses a per-host key: comma-separated `host=value` pairs, each value passed through `check`
 * (an error message, or null when good) and `norm`. Every problem is reported at once.
 */
export function parseHostPairs(
  raw: string | undefined | null,
  check: (value: string) => string | null,
  norm: (value: string) => string = (v) => v,
  expected = 'host=value',
): Result<Map<string, string>, string[]> {
  const pairs = new Map<string, string>();
  const problems: string[] = [];
  for (const entry of (raw ?? '').split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const m = /^([^=]+)=(.*)$/.exec(entry);
    const name = m?.[1]?.trim() ?? '';
    const value = m?.[2]?.trim() ?? '';
    const bad = m && NAME_RE.test(name) ? check(value) : null;
    if (!m || !NAME_RE.test(name)) problems.push(`"${entry.slice(0, 80)}": expected ${expected}`);
    else if (bad) problems.push(`${name}: ${bad}`);
    else if (pairs.has(name)) problems.push(`${name} is given twice`);
    else pairs.set(name, norm(value));
  }
  return problems.length ? err(problems) : ok(pairs);
}

/** A path without its trailing slashes (`/` stays `/`). */
export const trimSlashes = (path: string): string => (path.length > 1 ? path.replace(/\/+$/, '') : path);

/**
 * Parses comma-separated `host=/absolute/path` pairs, trailing slashes trimmed: SITES_ROOTS (the
 * site folders of each ssh:// host on that host), CADDY_SITES_DIRS. Every problem is reported at once.
 */
export function parseHostPaths(raw: string | undefined | null): Result<Map<string, string>, string[]> {
  return parseHostPairs(raw, checkHostPath, trimSlashes, 'host=/path');
}

const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/**
 * Parses DOCKER_SSH_HOST_KEYS: comma-separated `name=SHA256:<base64>` pairs, the fingerprint as
 * `ssh-keygen -lf` prints it. Every problem is reported at once.
 */
export function parseSshHostKeys(raw: string | undefined | null): Result<Map<string, string>, string[]> {
  const keys = new Map<string, string>();
  const problems: string[] = [];
  for (const entry of (raw ?? '').split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const m = /^([^=]+)=(.*)$/.exec(entry);
    const name = m?.[1]?.trim() ?? '';
    const fp = m?.[2]?.trim() ?? '';
    if (!m || !NAME_RE.test(name)) {
      problems.push(`"${entry.slice(0, 80)}": expected name=SHA256:<base64>`);
    } else if (!FINGERPRINT_RE.test(fp)) {
      problems.push(`${name}: expected SHA256:<base64> as \`ssh-keygen -lf\` prints it`);
    } else if (keys.has(name)) {
      problems.push(`${name} is given twice`);
    } else {
      keys.set(name, fp.replace(/=+$/, ''));
    }
  }
  return problems.length ? err(problems) : ok(keys);
}

export { isLoopbackHost, sshHostVerifier, sshKeyFingerprint };

/** TLS client files of a tcp host, from `<tlsDir>/<name>/{ca,cert,key}.pem`. */
export interface TlsFiles {
  dir: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Reads a host's TLS files: null when the folder has none, CONFIG_INVALID when only some exist. */
export function tlsFilesFor(tlsDir: string | null | undefined, name: string): TlsFiles | null {
  if (!tlsDir) return null;
  const dir = join(tlsDir, name);
  const files = ['ca.pem', 'cert.pem', 'key.pem'].map((f) => join(dir, f));
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) return null;
  if (present.length < files.length) {
    throw new SiteFlowError(
      'CONFIG_INVALID',
      `host ${name}: ${dir} needs all of ca.pem, cert.pem and key.pem`,
    );
  }
  const [ca, cert, key] = files.map((f) => readFileSync(f));
  return { dir, ca: ca!, cert: cert!, key: key! };
}

/** SSH credentials for ssh:// hosts (the one ssh2 connection per host uses them). */
export interface SshCredentials {
  /** Path of an ssh-agent socket (SSH_AUTH_SOCK). */
  agent?: string;
  /** A private key. */
  privateKey?: Buffer | string;
}

/** dockerode options for a host; every connection field is explicit so DOCKER_HOST cannot leak in. */
export function dockerOptionsFor(
  spec: HostSpec,
  o: {
    tls?: TlsFiles | null;
    /** The SSH connection of an ssh host: the Docker API goes over it. */
    sshConnection?: SshConnection;
  } = {},
): Dockerode.DockerOptions {
  switch (spec.kind) {
    case 'unix':
      return { socketPath: spec.socketPath, host: undefined, port: undefined, protocol: 'http' };
    case 'tcp':
      return {
        host: spec.host,
        port: spec.port,
        socketPath: undefined,
        ...(o.tls
          ? { protocol: 'https', ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key }
          : { protocol: 'http' }),
        // No docker-modem connectionTimeout: it limits the whole answer (cleared only on the
        // response), so a restart of a slow-stopping container failed. Every call of the
        // engine carries its own deadline instead (DockerodeEngine callTimeoutMs).
      };
    case 'ssh':
      if (!o.sshConnection)
        throw new SiteFlowError(
          'CONFIG_INVALID',
          `host ${spec.name}: an ssh:// host needs its SSH connection`,
        );
      // Plain HTTP through the connection's agent: every request is a stream-local forward to the
      // engine socket inside the one SSH connection (docker-modem's own ssh mode would open a new
      // connection per request and check no pinned key). The host name is never resolved.
      return {
        protocol: 'http',
        host: spec.name,
        port: 80,
        socketPath: undefined,
        agent: o.sshConnection.agent(),
      } as Dockerode.DockerOptions;
  }
}

/** Environment that points the compose CLI at a host (DOCKER_HOST and, for TLS, the cert folder). */
export function composeEnvFor(spec: HostSpec, tls?: TlsFiles | null): Record<string, string> {
  const env: Record<string, string> = { DOCKER_HOST: spec.url };
  if (spec.kind === 'tcp' && tls) {
    env.DOCKER_TLS_VERIFY = '1';
    env.DOCKER_CERT_PATH = tls.dir;
  }
  return env;
}

/** The SITES_ROOT host when none is configured: `local` if present, else the first. */
function defaultSitesRootHost(names: readonly string[]): string {
  return names.includes('local') ? 'local' : names[0]!;
}

/** Configuration of the registry (values come from config.ts, never from process.env here). */
export interface HostsConfig {
  dockerHosts?: string | null;
  tlsDir?: string | null;
  /** SITES_ROOT: site folders live on this machine, so they belong to one host. */
  sitesRoot?: string | null;
  /** Which host the SITES_ROOT folders belong to (default `local` if configured, else the first). */
  sitesRootHost?: string | null;
  /** SITES_ROOTS: `host=/path` pairs, the site folders of ssh:// hosts on those hosts (read over SFTP). */
  sitesRoots?: string | null;
  ssh?: SshCredentials;
  /** DOCKER_SSH_HOST_KEYS: `name=SHA256:...` pairs; every ssh:// host needs one. */
  sshHostKeys?: string | null;
  connectTimeoutMs?: number;
  /** SITES_SCOPE (default `managed`: only projects under SITES_ROOT or labelled siteflow.manage=true). */
  scope?: ScopeMode;
  /** Where skipped projects are reported. */
  logger?: Logger;
  /** Deadline of each non-streaming engine call (DOCKER_CALL_TIMEOUT_SECONDS). */
  callTimeoutMs?: number;
  /** Waits before a new SSH attempt after a failure: the first, and the longest. */
  sshBackoffMs?: { min: number; max: number };
}

/** The sites of every host, and the hosts that could not be listed. */
export interface AllSites {
  sites: SiteInfo[];
  failures: Array<{ host: string; code: string; message: string }>;
}

/** Named engines and site lookup across them. */
export class Hosts implements HostRegistry {
  private readonly byName = new Map<string, Engine>();
  private readonly composeEnvs = new Map<string, Record<string, string>>();
  private readonly rootHost: string;

  /** `sitesRootHost` defaults to `local` when configured, else the first engine. */
  constructor(
    engines: readonly Engine[],
    composeEnvs: Record<string, Record<string, string>> = {},
    sitesRootHost?: string,
  ) {
    if (engines.length === 0) throw new SiteFlowError('CONFIG_INVALID', 'no Docker host configured');
    for (const e of engines) {
      if (this.byName.has(e.name))
        throw new SiteFlowError('CONFIG_INVALID', `Docker host ${e.name} is given twice`);
      this.byName.set(e.name, e);
    }
    for (const [k, v] of Object.entries(composeEnvs)) this.composeEnvs.set(k, v);
    this.rootHost = sitesRootHost ?? defaultSitesRootHost(engines.map((e) => e.name));
    if (!this.byName.has(this.rootHost))
      throw new SiteFlowError('CONFIG_INVALID', `SITES_ROOT host ${this.rootHost} is not in DOCKER_HOSTS`);
  }

  /** Builds DockerodeEngines from configuration; throws CONFIG_INVALID listing every problem. */
  static fromConfig(cfg: HostsConfig = {}): Hosts {
    const parsed = parseDockerHosts(cfg.dockerHosts);
    if (!parsed.ok) throw new SiteFlowError('CONFIG_INVALID', `DOCKER_HOSTS: ${parsed.error.join('; ')}`);
    const specs = parsed.value;
    const rootHost = cfg.sitesRootHost ?? defaultSitesRootHost(specs.map((s) => s.name));
    if (cfg.sitesRoot && !specs.some((s) => s.name === rootHost))
      throw new SiteFlowError('CONFIG_INVALID', `SITES_ROOT host ${rootHost} is not in DOCKER_HOSTS`);
    const hostKeys = parseSshHostKeys(cfg.sshHostKeys);
    if (!hostKeys.ok)
      throw new SiteFlowError('CONFIG_INVALID', `DOCKER_SSH_HOST_KEYS: ${hostKeys.error.join('; ')}`);
    const problems: string[] = [];
    for (const name of hostKeys.value.keys())
      if (!specs.some((s) => s.name === name && s.kind === 'ssh'))
        problems.push(`DOCKER_SSH_HOST_KEYS names ${name}, which is not an ssh:// host in DOCKER_HOSTS`);
    const roots = parseHostPaths(cfg.sitesRoots);
    if (!roots.ok) problems.push(`SITES_ROOTS: ${roots.error.join('; ')}`);
    for (const name of roots.ok ? roots.value.keys() : []) {
      const spec = specs.find((s) => s.name === name);
      if (!spec) problems.push(`SITES_ROOTS names ${name}, which is not in DOCKER_HOSTS`);
      else if (spec.kind !== 'ssh')
        problems.push(
          `SITES_ROOTS names ${name}: only ssh:// hosts take one (this machine's sites are under SITES_ROOT)`,
        );
    }
    const remoteRoots = roots.ok ? roots.value : new Map<string, string>();
    const tlsOf = new Map<string, TlsFiles | null>();
    for (const spec of specs) {
      if (spec.kind === 'ssh' && !spec.username)
        problems.push(`host ${spec.name} (${spec.url}): name the SSH user (ssh://user@host)`);
      if (spec.kind === 'ssh' && !hostKeys.value.has(spec.name))
        problems.push(
          `host ${spec.name} (${spec.url}): pin its SSH host key in DOCKER_SSH_HOST_KEYS as ${spec.name}=SHA256:... (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on that host); SiteFlow does not trust an unknown key`,
        );
      if (spec.kind === 'tcp') {
        const tls = tlsFilesFor(cfg.tlsDir, spec.name);
        tlsOf.set(spec.name, tls);
        if (!tls && !isLoopbackHost(spec.host))
          problems.push(
            `host ${spec.name} (${spec.url}): plain tcp:// to another machine gives anyone on the network root; put ca.pem, cert.pem and key.pem in DOCKER_TLS_DIR/${spec.name}, or use ssh://`,
          );
      }
    }
    if (problems.length) throw new SiteFlowError('CONFIG_INVALID', problems.join('; '));
    const envs: Record<string, Record<string, string>> = {};
    const scopeFor = (sitesRoot: string | null) =>
      new SiteScope({
        mode: cfg.scope ?? 'managed',
        sitesRoot,
        ...(cfg.logger ? { logger: cfg.logger } : {}),
      });
    const scope = scopeFor(cfg.sitesRoot ?? null);
    const connections: SshConnection[] = [];
    const engines = specs.map((spec) => {
      const tls = tlsOf.get(spec.name) ?? null;
      envs[spec.name] = composeEnvFor(spec, tls);
      let sshConnection: SshConnection | undefined;
      if (spec.kind === 'ssh') {
        sshConnection = new SshConnection({
          name: spec.name,
          host: spec.host,
          port: spec.port,
          username: spec.username!,
          hostKey: hostKeys.value.get(spec.name)!,
          ...(spec.socket ? { remoteSocket: spec.socket } : {}),
          ...(cfg.ssh?.privateKey ? { privateKey: cfg.ssh.privateKey } : {}),
          ...(cfg.ssh?.agent ? { agent: cfg.ssh.agent } : {}),
          ...(cfg.connectTimeoutMs !== undefined ? { readyTimeoutMs: cfg.connectTimeoutMs } : {}),
          ...(cfg.sshBackoffMs ? { backoffMs: cfg.sshBackoffMs } : {}),
          ...(cfg.logger ? { logger: cfg.logger } : {}),
        });
        connections.push(sshConnection);
      }
      const remoteRoot = remoteRoots.get(spec.name) ?? null;
      const engine = new DockerodeEngine({
        name: spec.name,
        docker: dockerOptionsFor(spec, { tls, ...(sshConnection ? { sshConnection } : {}) }),
        sitesRoot: remoteRoot ?? (spec.name === rootHost ? (cfg.sitesRoot ?? null) : null),
        // A remote host's folders are on that host: read over SFTP through its connection.
        ...(remoteRoot && sshConnection ? { folders: new SftpSiteFolders(sshConnection, remoteRoot) } : {}),
        ...(cfg.callTimeoutMs !== undefined ? { callTimeoutMs: cfg.callTimeoutMs } : {}),
      });
      return new ScopedEngine(engine, remoteRoot ? scopeFor(remoteRoot) : scope);
    });
    const hosts = new Hosts(engines, envs, rootHost);
    for (const c of connections) hosts.ssh.set(c.name, c);
    for (const [name, root] of remoteRoots) hosts.sitesRoots.set(name, root);
    return hosts;
  }

  /** The SSH connection of each ssh:// host. */
  readonly ssh = new Map<string, SshConnection>();

  /** SITES_ROOTS as checked at start: each ssh:// host's site folder on that host. */
  readonly sitesRoots = new Map<string, string>();

  /**
   * Compose for every host: `local` for unix:// and tcp:// hosts, compose over the SSH connection
   * for each ssh:// host (routed by the DOCKER_HOST that composeEnv gives it).
   */
  composeFor(local: Compose): Compose {
    const remote = new Map<string, Compose>();
    for (const [name, conn] of this.ssh) {
      const url = this.composeEnvs.get(name)?.DOCKER_HOST;
      if (url) remote.set(url, new RemoteCompose(conn));
    }
    return new ComposeRouter(local, remote);
  }

  /** Closes every SSH connection (at stop). */
  close(): void {
    for (const c of this.ssh.values()) c.close();
  }

  /** The host the SITES_ROOT folders belong to: provision and deprovision drive its engine. */
  sitesRootHost(): string {
    return this.rootHost;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  get(host: string): Engine | undefined {
    return this.byName.get(host);
  }

  /** Every engine, in configuration order. */
  all(): Engine[] {
    return [...this.byName.values()];
  }

  /** Environment for the compose CLI to target `host` (DOCKER_HOST, TLS); empty when unknown. */
  composeEnv(host: string): Record<string, string> {
    return { ...(this.composeEnvs.get(host) ?? {}) };
  }

  /**
   * Sites of every host; a host that fails, or does not answer within `answerMs` (default
   * HOST_ANSWER_MS), is reported (code DOCKER_TIMEOUT for the latter), not fatal.
   */
  async listAllSites(answerMs = HOST_ANSWER_MS): Promise<AllSites> {
    const engines = this.all();
    const per = await settleWithin(engines, answerMs, (engine) => engine.listSites());
    const sites: SiteInfo[] = [];
    const failures: AllSites['failures'] = [];
    per.forEach((p, i) => {
      const host = engines[i]!.name;
      if (p.status === 'ok') sites.push(...p.value);
      else if (p.status === 'timeout')
        failures.push({ host, code: 'DOCKER_TIMEOUT', message: `not answering within ${answerMs / 1000} s` });
      else
        failures.push({
          host,
          code: isSiteFlowError(p.error) ? p.error.code : 'DOCKER_API',
          message: describeError(p.error),
        });
    });
    return { sites, failures };
  }
}
