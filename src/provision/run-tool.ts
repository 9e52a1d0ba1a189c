/** Runs a helper program (caddy, tar, a reload command) with an argument array, never a shell. */
import { spawn } from 'node:child_process';
import { childEnv } from '../child-env.js';
import { SiteFlowError } from '../core/errors.js';

/** How a tool run ended. */
export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Spawns `cmd args` in its own process group and collects its output (bounded); kills the whole
 * group on timeout or abort.
 * Throws PROVISION_TOOL when it cannot be started, was killed, or (unless `allowFailure`)
 * exited non-zero, with the last lines of stderr in the message.
 */
export function runTool(
  cmd: string,
  args: readonly string[],
  opts: {
    timeoutMs?: number;
    signal?: AbortSignal;
    /** Added to the minimal child environment (child-env.ts); SiteFlow's own is never passed. */
    env?: Record<string, string>;
    cwd?: string;
    allowFailure?: boolean;
    maxOutput?: number;
  } = {},
): Promise<ToolResult> {
  const max = opts.maxOutput ?? 4 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    // Detached: its own process group, so a kill reaches whatever it started (a reload script's children).
    const child = spawn(cmd, [...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(opts.env),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    let killed: string | null = null;
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < max) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < max) stderr += d.toString('utf8');
    });
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    };
    const kill = (why: string) => {
      killed = why;
      killGroup();
    };
    const timer = setTimeout(() => kill('timed out'), opts.timeoutMs ?? 60_000);
    const onAbort = () => kill('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    const name = [cmd, ...args.slice(0, 1)].join(' ');
    child.once('error', (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new SiteFlowError('PROVISION_TOOL', `${name}: cannot run: ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // A killed leader may leave group members behind that closed their output: no strays.
      if (killed) killGroup();
      if (killed) return reject(new SiteFlowError('PROVISION_TOOL', `${name}: ${killed}`));
      if (code !== 0 && !opts.allowFailure) {
        const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-5).join('\n');
        return reject(new SiteFlowError('PROVISION_TOOL', `${name} exited with ${code}: ${tail}`));
      }
      resolve({ code, stdout, stderr });
    });
  });
}
