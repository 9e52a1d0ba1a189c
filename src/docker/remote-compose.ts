/**
 * Compose on a remote host, through that host's one SSH connection: `docker compose` (or
 * `docker-compose`) runs in the site's folder there, where its bind mounts and `.env` live, with
 * every word quoted for the remote shell. Output streams line by line; a cancel or timeout signals
 * the remote process and closes the channel. Site folders there are read over SFTP.
 *
 * ComposeRouter sends a run whose DOCKER_HOST is an ssh:// host to that host's RemoteCompose and
 * every other run to the local CLI: no system `ssh` ever runs compose.
 */
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { NAME_RE } from '../core/command.js';
import type { Compose, ComposeCliInfo, ComposeRunOptions, SiteFolder } from '../core/engine.js';
import { describeError, SiteFlowError } from '../core/errors.js';
import {
  checkProjectName,
  composeOutcome,
  LineSplitter,
  memoUntilFailure,
  probeCompose,
} from './compose-cli.js';
import { shCommand, shQuote } from './shell-quote.js';
import { COMPOSE_FILE_NAMES } from './site-folders.js';
import type { SshConnection } from './ssh-connection.js';

/** An absolute POSIX path without `..` segments or control characters. */
const REMOTE_PATH_RE = /^\/(?!.*(?:^|\/)\.\.(?:\/|$))[^\0-\x1f]*$/;

/** Environment names compose may get from the caller (DOCKER_* of the local view are dropped). */
const ENV_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;

/** Throws INPUT_INVALID unless `p` is a safe absolute path on the remote host. */
export function checkRemotePath(p: string, what = 'path'): string {
  if (!REMOTE_PATH_RE.test(p))
    throw new SiteFlowError(
      'INPUT_INVALID',
      `not a valid absolute ${what}: ${JSON.stringify(p.slice(0, 120))}`,
    );
  return p;
}

/** Compose's own plain-output settings, as for the local CLI (see composeEnv in compose-cli.ts). */
const PLAIN_OUTPUT = {
  COMPOSE_INTERACTIVE_NO_CLI: '1',
  COMPOSE_ANSI: 'never',
  COMPOSE_PROGRESS: 'plain',
  PYTHONUNBUFFERED: '1',
};

/** Compose over one host's SSH connection. */
export class RemoteCompose implements Compose {
  constructor(
    private readonly conn: SshConnection,
    private readonly o: { killGraceMs?: number; tailLines?: number } = {},
  ) {}

  /**
   * `env 'K=V' ...` words: the plain-output settings, the host's engine socket, the caller's extras.
   * They are part of the remote command line (visible in `ps` there): never pass a secret here.
   */
  private envWords(extra: Record<string, string> = {}): string[] {
    const env: Record<string, string> = { ...PLAIN_OUTPUT };
    for (const [k, v] of Object.entries(extra)) {
      if (k.startsWith('DOCKER_')) continue; // the local view of the host (ssh:// URL, TLS paths)
      if (!ENV_NAME_RE.test(k)) throw new SiteFlowError('INPUT_INVALID', `not a valid variable name: ${k}`);
      env[k] = v;
    }
    env.DOCKER_HOST = `unix://${this.conn.remoteSocket}`;
    return ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  }

  /** Tries `docker compose version`, then `docker-compose version` on the host; memoised once it succeeds. */
  readonly detect: () => Promise<ComposeCliInfo> = memoUntilFailure(() =>
    probeCompose(
      [
        { flavor: 'v2', command: ['docker', 'compose'], version: '' },
        { flavor: 'v1', command: ['docker-compose'], version: '' },
      ],
      async (c) => {
        let out = '';
        const exit = await this.conn.exec(shCommand([...this.envWords(), ...c.command, 'version']), {
          onStdout: (d) => {
            out += String(d);
          },
          timeoutMs: 15_000,
        });
        return { ...exit, out };
      },
      ` on host ${this.conn.name}`,
    ),
  );

  async run(
    projectDir: string,
    project: string,
    args: readonly string[],
    opts: ComposeRunOptions = {},
  ): Promise<{ exitCode: number }> {
    checkProjectName(project);
    checkRemotePath(projectDir, 'project folder');
    opts.signal?.throwIfAborted();
    if (!(await remoteIsDir(await this.conn.sftp(), projectDir)))
      throw new SiteFlowError(
        'COMPOSE_NO_PROJECT_DIR',
        `the project folder ${projectDir} of ${project} does not exist on host ${this.conn.name}`,
        { project, projectDir, host: this.conn.name },
      );
    const cli = await this.detect();
    const files = (opts.files ?? []).flatMap((f) => ['-f', posix.resolve(projectDir, f)]);
    const argv = [...this.envWords(opts.env), ...cli.command, '--project-name', project, ...files, ...args];
    // `exec`: the shell gives way to compose, so the TERM of a cancel reaches compose itself.
    const command = `cd ${shQuote(projectDir)} && exec ${shCommand(argv)}`;
    const tail: string[] = [];
    const keep = this.o.tailLines ?? 20;
    const onLine = (line: string, stream: 'stdout' | 'stderr') => {
      tail.push(line);
      if (tail.length > keep) tail.shift();
      opts.onLine?.(line, stream);
    };
    const out = new LineSplitter((l) => onLine(l, 'stdout'));
    const err = new LineSplitter((l) => onLine(l, 'stderr'));
    const exit = await this.conn.exec(command, {
      onStdout: (c) => out.push(c),
      onStderr: (c) => err.push(c),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(this.o.killGraceMs !== undefined ? { killGraceMs: this.o.killGraceMs } : {}),
    });
    out.end();
    err.end();
    return composeOutcome(exit, project, args, opts, tail);
  }
}

/** Local compose for local and tcp:// hosts, RemoteCompose for each ssh:// host (by its DOCKER_HOST URL). */
export class ComposeRouter implements Compose {
  constructor(
    private readonly local: Compose,
    private readonly remote: ReadonlyMap<string, Compose>,
  ) {}

  detect(): Promise<ComposeCliInfo> {
    return this.local.detect();
  }

  run(
    projectDir: string,
    project: string,
    args: readonly string[],
    opts: ComposeRunOptions = {},
  ): Promise<{ exitCode: number }> {
    const target = opts.env?.DOCKER_HOST;
    if (target?.startsWith('ssh://')) {
      const remote = this.remote.get(target);
      // Never hand an ssh:// DOCKER_HOST to the local CLI: that would run the system ssh.
      if (!remote)
        return Promise.reject(
          new SiteFlowError('CONFIG_INVALID', `compose for ${target}: not an ssh:// host of DOCKER_HOSTS`),
        );
      return remote.run(projectDir, project, args, opts);
    }
    return this.local.run(projectDir, project, args, opts);
  }
}

/** True when `path` is a folder on the remote host; false when absent. */
function remoteIsDir(sftp: SFTPWrapper, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    sftp.stat(path, (err, st) => {
      if (!err) return resolve(st.isDirectory());
      if ((err as { code?: number }).code === 2) return resolve(false); // SSH_FX_NO_SUCH_FILE
      reject(new SiteFlowError('DOCKER_UNREACHABLE', `SFTP stat ${path}: ${describeError(err)}`));
    });
  });
}

function remoteIsFile(sftp: SFTPWrapper, path: string): Promise<boolean> {
  return new Promise((resolve) => sftp.stat(path, (err, st) => resolve(!err && st.isFile())));
}

/** The site folders of a remote host's SITES_ROOTS folder, read over SFTP (as site-folders.ts does locally). */
export class SftpSiteFolders {
  constructor(
    private readonly conn: SshConnection,
    readonly root: string,
  ) {
    checkRemotePath(root, 'SITES_ROOTS folder');
  }

  /** The site folder `root/name`, or null when the name is invalid or it holds no compose file. */
  async folder(name: string): Promise<SiteFolder | null> {
    if (!NAME_RE.test(name)) return null;
    const sftp = await this.conn.sftp();
    const dir = posix.join(this.root, name);
    for (const f of COMPOSE_FILE_NAMES)
      if (await remoteIsFile(sftp, posix.join(dir, f)))
        return { name, dir, composeFiles: [posix.join(dir, f)] };
    return null;
  }

  /** Every site folder, sorted by name; an absent root has none. */
  async scan(): Promise<SiteFolder[]> {
    const sftp = await this.conn.sftp();
    const names = await new Promise<string[]>((resolve, reject) =>
      sftp.readdir(this.root, (err, list) => {
        if (!err) return resolve(list.map((e) => e.filename));
        if ((err as { code?: number }).code === 2) return resolve([]);
        reject(
          new SiteFlowError(
            'DOCKER_UNREACHABLE',
            `host ${this.conn.name}: cannot list ${this.root} over SFTP (${describeError(err)})`,
          ),
        );
      }),
    );
    const found = await Promise.all(names.filter((n) => NAME_RE.test(n)).map((n) => this.folder(n)));
    return found.filter((f): f is SiteFolder => f !== null).sort((a, b) => a.name.localeCompare(b.name));
  }
}
