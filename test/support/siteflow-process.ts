/**
 * SiteFlow as a real child process (`node --import tsx src/main.ts`) with its console on
 * stdin/stdout, for tests that kill it: SIGKILL mid-run or mid-provision, SIGTERM and its grace.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor as poll, REPO_DIR } from '../env/harness.js';

/** A running SiteFlow process. */
export interface SiteFlowProcess {
  child: ChildProcess;
  /** Everything it printed on stdout so far. */
  output(): string;
  /** Resolves with the output once `re` is in it; throws with the output if it exits or `ms` pass first. */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGKILLs it (its whole process group when started `detached`) unless it has exited; resolves once it has. */
  kill(): Promise<void>;
}

/**
 * Starts SiteFlow with the console on, the web server on a free port, warnings only in the log
 * and no `.env` file (one in `dir` that does not exist), plus `env`. `detached` gives it a process
 * group of its own, so kill() takes its compose children with it, as `docker kill` of its
 * container would.
 */
export function spawnSiteFlow(
  dir: string,
  env: Record<string, string>,
  opts: { detached?: boolean } = {},
): SiteFlowProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_DIR,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CONSOLE: 'on',
      WEB_PORT: '0',
      LOG_LEVEL: 'warn',
      SITEFLOW_ENV_FILE: join(dir, 'none.env'),
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: opts.detached === true,
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    exited,
    async waitFor(re, ms = 30_000) {
      let gone = false;
      await poll(
        String(re),
        () => {
          if (re.test(out)) return true;
          gone = child.exitCode !== null;
          return gone;
        },
        ms,
        { intervalMs: 50 },
      ).catch(() => undefined);
      if (gone || !re.test(out)) throw new Error(`no ${re} in:\n${out}`);
      return out;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        if (opts.detached) process.kill(-child.pid!, 'SIGKILL');
        else child.kill('SIGKILL');
      }
      await exited;
    },
  };
}
