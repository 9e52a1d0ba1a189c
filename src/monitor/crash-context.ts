/**
 * Crash context of a site alert: for each failing container (at most three), its exit code,
 * whether it was OOM-killed, its memory limit, the output of its last failing healthcheck and
 * its last log lines, read from the engine (inspect, logs) within a deadline. Everything the
 * containers printed is untrusted: control characters are stripped, lines clamped, the
 * configured secrets and `password=...`-like values masked.
 */
import { sanitizeLine } from '../actions/sanitize.js';
import type { ContainerInfo, Engine } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import { redactSecrets } from '../logger.js';
import { formatBytes } from '../web/view-model.js';

/** Options of {@link crashContext}. */
export interface CrashContextOptions {
  /** Log lines per container (default 20). */
  lines?: number;
  /** Deadline of the whole read (default 3 s); what is known by then is shown. */
  timeoutMs?: number;
  /** Configured secret values, masked wherever they appear. */
  secrets: readonly string[];
}

const MAX_CONTAINERS = 3;
const MAX_LINE = 300;
/** `password=x`, `token: x`, `Authorization: Bearer x`, `api_key=x`: the value is masked. */
const SECRETISH =
  /(pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|auth(?:orization)?)(["']?\s*[=:]\s*["']?)(?:bearer\s+|basic\s+)?[^\s"',;&]+/gi;

/** Masks secrets and secret-looking values in one line of untrusted output and clamps it. */
export function maskLine(text: string, secrets: readonly string[]): string {
  return sanitizeLine(redactSecrets(text, secrets), MAX_LINE).replace(SECRETISH, '$1$2[redacted]');
}

/** The context lines of the failing containers (`ids`) of one engine. */
export async function crashContext(
  engine: Engine,
  ids: readonly string[],
  opts: CrashContextOptions,
): Promise<string[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 3000);
  try {
    const parts = await Promise.all(
      ids.slice(0, MAX_CONTAINERS).map((id) => containerContext(engine, id, opts, ac.signal)),
    );
    const out = parts.flat();
    if (ids.length > MAX_CONTAINERS)
      out.push(`(${ids.length - MAX_CONTAINERS} more failing containers not shown)`);
    return out;
  } finally {
    clearTimeout(timer);
  }
}

async function containerContext(
  engine: Engine,
  id: string,
  opts: CrashContextOptions,
  signal: AbortSignal,
): Promise<string[]> {
  let info: ContainerInfo;
  try {
    info = await withSignal(engine.inspect(id), signal);
  } catch (e) {
    return [`${id.slice(0, 12)}: no details (${describeError(e)})`];
  }
  const facts: string[] = [];
  if (info.exitCode !== null && info.state !== 'running') facts.push(`exited with code ${info.exitCode}`);
  else facts.push(info.health === 'unhealthy' ? 'unhealthy' : info.state);
  if (info.oomKilled) facts.push('OOM-killed (out of memory)');
  facts.push(
    info.memoryLimitBytes ? `memory limit ${formatBytes(info.memoryLimitBytes)}` : 'no memory limit',
  );
  const out = [`${info.name}: ${facts.join(', ')}`];
  if (info.healthOutput) {
    const lines = info.healthOutput.split('\n').filter(Boolean).slice(-3);
    out.push(`  last failing healthcheck: ${lines.map((l) => maskLine(l, opts.secrets)).join(' / ')}`);
  }
  const logs: string[] = [];
  try {
    for await (const l of engine.logs(id, { tail: opts.lines ?? 20, signal })) {
      logs.push(maskLine(l.text, opts.secrets));
      if (signal.aborted) break;
    }
  } catch (e) {
    if (!signal.aborted) out.push(`  (logs not readable: ${describeError(e)})`);
  }
  const tail = logs.slice(-(opts.lines ?? 20));
  if (tail.length)
    out.push(
      `  last ${tail.length} log line${tail.length === 1 ? '' : 's'}:`,
      ...tail.map((l) => `  | ${l}`),
    );
  else out.push('  (no log output)');
  return out;
}

function withSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('no answer in time'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('no answer in time'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
