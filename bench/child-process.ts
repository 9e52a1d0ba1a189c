/**
 * Processes of their own for the benchmarks: SiteFlow compiled (as the image runs it) and the
 * bare-SDK baselines, so the load generator and the fakes in the bench process never share an
 * event loop with what is measured.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_DIR } from '../test/env/harness.js';

/** Compiles `dist/` (npm run build) so the measured process is what the image runs. */
export function buildDist(log: (line: string) => void): void {
  log('compiling (npm run build) so the measured process is what the image runs');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_DIR, stdio: 'ignore' });
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A child process with the tail of its stderr kept for error messages. */
export interface BenchChild {
  process: ChildProcess;
  /** The last few KB the process wrote to stderr. */
  stderr(): string;
  /** Resolves once stdout printed a line matching `re` (rejects if the process exits first). */
  waitForLine(re: RegExp, ms?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

function wrap(child: ChildProcess): BenchChild {
  let err = '';
  let out = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    process: child,
    stderr: () => err,
    waitForLine: (re, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} (stderr: ${err})`)), ms);
        const check = () => {
          if (!re.test(out)) return;
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          resolve();
        };
        const onData = (d: Buffer) => {
          out = (out + d.toString('utf8')).slice(-4000);
          check();
        };
        child.stdout?.on('data', onData);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`process exited (${child.exitCode}): ${err}`));
        });
        check();
      }),
    stop: async (graceMs = 5000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The minimal environment every benchmark child gets (never the bench's own secrets). */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

/**
 * Starts compiled SiteFlow (`dist/src/main.js`, no console, a temp DATA_DIR and SITES_ROOT) with
 * `env` on top; removes the temp folder on stop.
 */
export function spawnSiteFlow(env: Record<string, string>): BenchChild {
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-proc-'));
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the measured SiteFlow process, written on exit.
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child = wrap(
    spawn(process.execPath, [...prof, join(REPO_DIR, 'dist/src/main.js')], {
      cwd: dir,
      env: baseEnv({
        CONSOLE: 'off',
        WEB_PORT: '0',
        LOG_LEVEL: 'warn',
        DATA_DIR: join(dir, 'data'),
        SITES_ROOT: join(dir, 'sites'),
        SITEFLOW_ENV_FILE: join(dir, 'none.env'),
        ...env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const stop = child.stop;
  child.stop = async (graceMs) => {
    await stop(graceMs);
    rmSync(dir, { recursive: true, force: true });
  };
  return child;
}

/** Runs an ES module given as source text with the repository's node_modules. */
export function spawnModule(source: string, env: Record<string, string>): BenchChild {
  return wrap(
    spawn(process.execPath, ['--input-type=module', '-e', source], {
      cwd: REPO_DIR,
      env: baseEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}
