/**
 * Compose over the real CLI: `docker compose` (v2 plugin) or `docker-compose` (v1), detected at
 * run time. Each run is spawned with an argument array in its own process group, so an abort or
 * a timeout kills the whole tree (SIGTERM, then SIGKILL after a grace) and leaves no stray process.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { childEnv } from '../child-env.js';
import { NAME_RE } from '../core/command.js';
import type { Compose, ComposeCliInfo, ComposeRunOptions } from '../core/engine.js';
import { isSiteFlowError, SiteFlowError } from '../core/errors.js';

/** Options of a ComposeCli. */
export interface ComposeCliOptions {
  /** The docker CLI (for `docker compose`). */
  dockerBin?: string;
  /** The v1 CLI. */
  composeBin?: string;
  /** Environment for every run, e.g. DOCKER_HOST for a remote host (merged under `run`'s env). */
  env?: Record<string, string>;
  /** Time between SIGTERM and SIGKILL of the process group. */
  killGraceMs?: number;
  /** Lines kept for the error message of a failed run. */
  tailLines?: number;
}

/** The minimal environment of a compose child (see child-env.ts), with compose's output kept plain. */
export function composeEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = childEnv();
  // Keep compose output plain: no ANSI progress UI, no interactive prompts.
  env.COMPOSE_INTERACTIVE_NO_CLI = '1';
  env.COMPOSE_ANSI = 'never';
  env.COMPOSE_PROGRESS = 'plain';
  // docker-compose v1 is Python: without this its stdout is block-buffered into a pipe, so lines
  // like "Attaching to ..." would only arrive when it exits.
  env.PYTHONUNBUFFERED = '1';
  return { ...env, ...extra };
}

/** Splits a byte stream into lines (UTF-8 safe across chunks). */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: Buffer): void {
    const parts = (this.rest + this.decoder.write(chunk)).split(/\r?\n/);
    this.rest = parts.pop() ?? '';
    for (const p of parts) this.emit(p);
  }
  end(): void {
    const last = this.rest + this.decoder.end();
    this.rest = '';
    if (last) this.emit(last);
  }
}

/** Result of running one compose process to completion (here or on a remote host). */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | string | null;
  /** Why it was killed, if we killed it. */
  killed: 'abort' | 'timeout' | null;
}

/** Throws INPUT_INVALID unless `project` is a valid compose project (site) name. */
export function checkProjectName(project: string): void {
  if (!NAME_RE.test(project))
    throw new SiteFlowError(
      'INPUT_INVALID',
      `not a valid compose project name: ${JSON.stringify(project.slice(0, 70))}`,
    );
}

/** The compose CLI driver. */
export class ComposeCli implements Compose {
  private readonly dockerBin: string;
  private readonly composeBin: string;
  private readonly killGraceMs: number;
  private readonly tailLines: number;

  constructor(private readonly opts: ComposeCliOptions = {}) {
    this.dockerBin = opts.dockerBin ?? 'docker';
    this.composeBin = opts.composeBin ?? 'docker-compose';
    this.killGraceMs = opts.killGraceMs ?? 5_000;
    this.tailLines = opts.tailLines ?? 20;
  }

  /** Tries `docker compose version`, then `docker-compose version`; memoised once it succeeds. */
  readonly detect: () => Promise<ComposeCliInfo> = memoUntilFailure(() =>
    probeCompose(
      [
        { flavor: 'v2', command: [this.dockerBin, 'compose'], version: '' },
        { flavor: 'v1', command: [this.composeBin], version: '' },
      ],
      async (c) => {
        const out: string[] = [];
        const exit = await this.spawnTree(
          c.command[0],
          [...c.command.slice(1), 'version'],
          { env: composeEnv(this.opts.env), timeoutMs: 15_000, onLine: (l) => out.push(l) },
          process.cwd(),
        );
        return { ...exit, out: out.join('\n') };
      },
    ),
  );

  async run(
    projectDir: string,
    project: string,
    args: readonly string[],
    opts: ComposeRunOptions = {},
  ): Promise<{ exitCode: number }> {
    checkProjectName(project);
    opts.signal?.throwIfAborted();
    // spawn reports a missing cwd as ENOENT, which would read as "compose is not installed".
    const dir = await stat(projectDir).catch(() => null);
    if (!dir?.isDirectory())
      throw new SiteFlowError(
        'COMPOSE_NO_PROJECT_DIR',
        `the project folder ${projectDir} of ${project} does not exist on this machine${dir ? ' (not a folder)' : ''}`,
        { project, projectDir },
      );
    const cli = await this.detect();
    const files = (opts.files ?? []).flatMap((f) => ['-f', resolve(projectDir, f)]);
    const argv = [...cli.command.slice(1), '--project-name', project, ...files, ...args];
    const tail: string[] = [];
    const onLine = (line: string, stream: 'stdout' | 'stderr') => {
      tail.push(line);
      if (tail.length > this.tailLines) tail.shift();
      opts.onLine?.(line, stream);
    };
    const exit = await this.spawnTree(
      cli.command[0],
      argv,
      {
        env: composeEnv({ ...this.opts.env, ...opts.env }),
        onLine,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      },
      projectDir,
    );
    return composeOutcome(exit, project, args, opts, tail);
  }

  /**
   * Spawns `cmd` detached (its own process group), streams lines, and on abort/timeout kills the
   * group: SIGTERM, then SIGKILL after the grace. Resolves once the process exited and its output
   * is drained; throws COMPOSE_MISSING when the executable does not exist.
   */
  private spawnTree(
    cmd: string,
    args: string[],
    o: {
      env: Record<string, string>;
      signal?: AbortSignal;
      timeoutMs?: number;
      onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
    },
    cwd: string,
  ): Promise<Exit> {
    return new Promise<Exit>((resolve, reject) => {
      const child = spawn(cmd, args, { cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let killed: Exit['killed'] = null;
      let killTimer: NodeJS.Timeout | undefined;
      const pgid = child.pid;
      const killGroup = (sig: NodeJS.Signals) => {
        if (pgid === undefined) return;
        try {
          process.kill(-pgid, sig);
        } catch {
          // the group is already gone
        }
      };
      const stop = (why: 'abort' | 'timeout') => {
        if (killed) return;
        killed = why;
        killGroup('SIGTERM');
        killTimer = setTimeout(() => killGroup('SIGKILL'), this.killGraceMs);
      };
      const onAbort = () => stop('abort');
      o.signal?.addEventListener('abort', onAbort, { once: true });
      if (o.signal?.aborted) stop('abort');
      const timeout = o.timeoutMs !== undefined ? setTimeout(() => stop('timeout'), o.timeoutMs) : undefined;

      const out = new LineSplitter((l) => o.onLine?.(l, 'stdout'));
      const err = new LineSplitter((l) => o.onLine?.(l, 'stderr'));
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));

      const cleanup = () => {
        o.signal?.removeEventListener('abort', onAbort);
        if (timeout) clearTimeout(timeout);
      };
      child.once('error', (e: NodeJS.ErrnoException) => {
        cleanup();
        if (killTimer) clearTimeout(killTimer);
        if (e.code === 'ENOENT')
          reject(new SiteFlowError('COMPOSE_MISSING', `${cmd} is not installed`, { cmd }));
        else
          reject(
            new SiteFlowError('COMPOSE_FAILED', `could not run ${cmd}: ${e.message}`, { cmd }, { cause: e }),
          );
      });
      child.once('close', (code, signal) => {
        cleanup();
        if (killTimer) clearTimeout(killTimer);
        // A killed leader may leave group members behind that closed their output: no strays.
        if (killed) killGroup('SIGKILL');
        out.end();
        err.end();
        resolve({ code, signal, killed });
      });
    });
  }
}

function signalNumber(sig: string | null): number {
  const table: Record<string, number> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
    HUP: 1,
    INT: 2,
    KILL: 9,
    TERM: 15,
  };
  return sig ? (table[sig] ?? 0) : 0;
}

/**
 * The outcome of a finished compose run: COMPOSE_CANCELLED, COMPOSE_TIMEOUT, COMPOSE_FAILED (with
 * the last lines) or the exit code. Shared by the local CLI and compose over SSH.
 */
export function composeOutcome(
  exit: Exit,
  project: string,
  args: readonly string[],
  opts: ComposeRunOptions,
  tail: readonly string[],
): { exitCode: number } {
  const what = `compose ${args[0] ?? ''} for ${project}`.trim();
  if (exit.killed === 'abort')
    throw new SiteFlowError(
      'COMPOSE_CANCELLED',
      `${what} was cancelled`,
      { project },
      { cause: opts.signal?.reason },
    );
  if (exit.killed === 'timeout')
    throw new SiteFlowError('COMPOSE_TIMEOUT', `${what} timed out after ${opts.timeoutMs} ms`, {
      project,
      timeoutMs: opts.timeoutMs,
    });
  const exitCode = exit.code ?? 128 + signalNumber(exit.signal);
  if (exitCode !== 0 && !opts.allowFailure) {
    throw new SiteFlowError(
      'COMPOSE_FAILED',
      `${what} failed with exit code ${exitCode}: ${tail.at(-1) ?? ''}`,
      {
        project,
        exitCode,
        tail: [...tail],
      },
    );
  }
  return { exitCode };
}

/**
 * `make()` once, the same promise after it succeeds; after a failure the next call tries again
 * (a compose CLI may be installed meanwhile).
 */
export function memoUntilFailure<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () => {
    if (!p) {
      const made = make();
      p = made;
      made.catch(() => {
        if (p === made) p = null;
      });
    }
    return p;
  };
}

/**
 * Runs `version` of each candidate in turn (the v2 plugin, then v1): the first that exits 0 and
 * prints a version wins. Throws COMPOSE_MISSING naming every try; a DOCKER_* failure (the host is
 * not reachable) passes through. `where` is added to the message (` on host edge`).
 */
export async function probeCompose(
  candidates: readonly ComposeCliInfo[],
  version: (c: ComposeCliInfo) => Promise<{ code: number | null; signal: string | null; out: string }>,
  where = '',
): Promise<ComposeCliInfo> {
  const tried: string[] = [];
  for (const c of candidates) {
    try {
      const r = await version(c);
      const v = /v?(\d+\.\d+\.\d+[\w.+-]*)/.exec(r.out)?.[1];
      if (r.code === 0 && v) return { ...c, version: v };
      tried.push(`${c.command.join(' ')} (exit ${r.code ?? r.signal})`);
    } catch (e) {
      if (isSiteFlowError(e, 'DOCKER_')) throw e;
      tried.push(`${c.command.join(' ')} (${(e as Error).message})`);
    }
  }
  throw new SiteFlowError('COMPOSE_MISSING', `no compose CLI found${where}; tried ${tried.join(', ')}`, {
    tried,
  });
}
