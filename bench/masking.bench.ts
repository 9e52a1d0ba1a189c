/**
 * Cost of secret masking on /logs throughput. A child process runs the real /logs action
 * (`logsSite`) through the real ActionRunner (run log file on disk, output hub with one
 * subscriber draining it) over 200,000 lines of a Docker-multiplexed log stream fed through the
 * real LogDemuxer in 64 KiB chunks. One child runs it with a SecretMasker holding 154 secrets
 * (4 of SiteFlow's own, 3 for each of 50 sites; 1 % of the lines contain one), the other with
 * no masker, each in its own process. Each child runs /logs RUNS times and reports its fastest
 * run (CPU time; the others are warm-up and interference from other load on the machine); the
 * children alternate in ABBA order over ROUNDS rounds, and the cost is the median of each
 * round's masked/plain ratio. The masked child also times the masker alone over the same lines
 * as the run hands it, as a share of its run's CPU time: the direct cost, free of process noise.
 * No Docker engine: it measures SiteFlow's part of /logs, where masking is the whole change.
 *
 *   npx tsx bench/masking.bench.ts
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './stats.js';
import type { BenchResult } from './types.js';

const LINES = 200_000;
const ROUNDS = 6;
const RUNS = 3;
const CHUNK = 64 * 1024;

function frame(text: string): Buffer {
  const payload = Buffer.from(`${text}\n`, 'utf8');
  const h = Buffer.alloc(8);
  h.writeUInt8(1, 0);
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Child: RUNS /logs runs; sends the fastest one's lines per second. */
async function child(masked: boolean): Promise<void> {
  const [
    { ActionRunner },
    { OutputHub },
    { FileRunLog },
    { SecretMasker },
    { LogDemuxer },
    { logsSite },
    { sanitizeLine },
  ] = await Promise.all([
    import('../src/core/runs.js'),
    import('../src/core/hub.js'),
    import('../src/runs/file-run-log.js'),
    import('../src/core/secret-mask.js'),
    import('../src/docker/log-demuxer.js'),
    import('../src/actions/logs-site.js'),
    import('../src/actions/sanitize.js'),
  ]);
  const { MemoryOperationStore } = await import('../test/unit/fakes/memory-operation-store.js');
  const { MemoryAuditStore } = await import('../test/unit/fakes/memory-audit-store.js');
  const secrets = [
    ...[
      'xoxb-1234567890-abcdefghij',
      'discord-token-abcdefghijklmnop',
      'web-token-0123456789ab',
      'nas-pw-99x',
    ],
    ...Array.from({ length: 50 }, (_, i) => [
      `db-pass-${i}-k3y9q`,
      `root-${i}-zz81mq`,
      `salt-${i}-qq0p2e`,
    ]).flat(),
  ];
  const bytes = Buffer.concat(
    Array.from({ length: LINES }, (_, i) =>
      frame(
        `2026-01-15T10:00:00.${String(i % 1000).padStart(3, '0')}Z GET /index.php?page=${i} 200 ${i % 997} ms` +
          (i % 100 === 0 ? ` password=${secrets[i % secrets.length]}` : ' ua=Mozilla/5.0'),
      ),
    ),
  );
  const engine = {
    async *logs() {
      const d = new LogDemuxer(false);
      for (let o = 0; o < bytes.length; o += CHUNK) {
        for (const l of d.push(bytes.subarray(o, o + CHUNK))) yield l;
        await new Promise((r) => setImmediate(r));
      }
      for (const l of d.end()) yield l;
    },
  };
  const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
  const masker = new SecretMasker();
  masker.set('bench', secrets);
  const site = {
    host: 'local',
    name: 'bench',
    projectDir: null,
    composeFiles: [],
    state: 'up' as const,
    containers: [{ id: 'c1', service: 'web', name: 'bench-web-1' }],
  };
  const once = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-mask-bench-'));
    const runner = new ActionRunner({
      operations: new MemoryOperationStore(),
      audit: new MemoryAuditStore(),
      runLog: new FileRunLog(dir),
      hub: new OutputHub(),
      clock: { now: () => Date.now() },
      logger: silent,
      maxConcurrentReads: 1,
      ...(masked ? { masker } : {}),
    });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const r = runner.start(
      logsSite({ engine: engine as never, site: site as never, lines: LINES, followMs: 0 }),
      { actor: { platform: 'console', id: 'bench', name: 'bench' } },
    );
    if (!r.ok) throw new Error('could not start');
    let seen = 0;
    for await (const ev of runner.events(r.value.id)) if (ev.type === 'line') seen++;
    await runner.wait(r.value.id);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    rmSync(dir, { recursive: true, force: true });
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, seen };
  };
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once());
  const best = runs.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
  const fastestWall = Math.min(...runs.map((r) => r.ms));
  // The masker alone over exactly the texts the runner hands it (sanitized demuxed lines).
  let maskCpuMs: number | null = null;
  if (masked) {
    const texts: string[] = [];
    const d = new LogDemuxer(false);
    for (let o = 0; o < bytes.length; o += CHUNK)
      for (const l of d.push(bytes.subarray(o, o + CHUNK))) texts.push(sanitizeLine(l.text));
    for (const l of d.end()) texts.push(sanitizeLine(l.text));
    let sink = 0;
    for (let i = 0; i < RUNS; i++) {
      const c0 = process.cpuUsage();
      for (const t of texts) sink += masker.mask(t).length;
      const c = process.cpuUsage(c0);
      const ms = (c.user + c.system) / 1000;
      maskCpuMs = maskCpuMs === null ? ms : Math.min(maskCpuMs, ms);
    }
    if (sink === 0) throw new Error('nothing masked');
  }
  process.send!({
    linesPerSec: (LINES / fastestWall) * 1000,
    linesPerCpuSec: (LINES / best.cpuMs) * 1000,
    seen: Math.min(...runs.map((r) => r.seen)),
    runCpuMs: best.cpuMs,
    maskCpuMs,
  } satisfies ChildResult);
}

interface ChildResult {
  /** Lines per second of wall time. */
  linesPerSec: number;
  /** Lines per second of the child's CPU time (less disturbed by other load on the machine). */
  linesPerCpuSec: number;
  /** Lines seen by the run with the fewest (every run must see all). */
  seen: number;
  /** CPU time of the fastest run. */
  runCpuMs: number;
  /** CPU time of the masker alone over the run's lines (masked child only). */
  maskCpuMs: number | null;
}

function runChild(masked: boolean): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ['--child', masked ? 'masked' : 'plain'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    c.once('message', (m) => resolve(m as ChildResult));
    c.once('exit', (code) => (code ? reject(new Error(`child exited ${code}`)) : undefined));
  });
}

export async function run(log: (l: string) => void = console.log): Promise<BenchResult[]> {
  const plain: ChildResult[] = [];
  const masked: ChildResult[] = [];
  const ratios: number[] = [];
  const wallRatios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // ABBA: plain first in even rounds, masked first in odd ones, so drift in the machine's
    // load does not favour either.
    const first = await runChild(i % 2 === 1);
    const second = await runChild(i % 2 === 0);
    const [m, p] = i % 2 === 1 ? [first, second] : [second, first];
    if (p.seen !== LINES || m.seen !== LINES) throw new Error(`lines lost: ${p.seen}, ${m.seen}`);
    plain.push(p);
    masked.push(m);
    ratios.push(m.linesPerCpuSec / p.linesPerCpuSec);
    wallRatios.push(m.linesPerSec / p.linesPerSec);
    log(
      `round ${i + 1} (${i % 2 ? 'masked' : 'plain'} first): no masking ${p.linesPerSec.toFixed(0)} lines/s (${p.linesPerCpuSec.toFixed(0)} per CPU s), ` +
        `masking ${m.linesPerSec.toFixed(0)} lines/s (${m.linesPerCpuSec.toFixed(0)} per CPU s), ratio ${ratios.at(-1)!.toFixed(3)}`,
    );
  }
  const cpuRatio = median(ratios);
  const wallRatio = median(wallRatios);
  const share = median(masked.map((r) => (r.maskCpuMs! / r.runCpuMs) * 100));
  const cpuPlain = median(plain.map((r) => r.linesPerCpuSec));
  const wallPlain = median(plain.map((r) => r.linesPerSec));
  log(
    `masking costs ${((1 - cpuRatio) * 100).toFixed(1)} % of /logs CPU throughput (median of ${ROUNDS} paired rounds); ` +
      `the masker alone is ${share.toFixed(1)} % of a masked run's CPU time`,
  );
  return [
    {
      name: `/logs per CPU second, 154 secrets masked (${LINES} lines; median paired ratio)`,
      value: cpuPlain * cpuRatio,
      unit: 'lines/s',
      baseline: { name: 'no masking', value: cpuPlain },
      target: '>= 0.90x',
    },
    {
      name: '/logs wall-clock throughput, masked (median paired ratio)',
      value: wallPlain * wallRatio,
      unit: 'lines/s',
      baseline: { name: 'no masking', value: wallPlain },
      target: '>= 0.90x',
    },
    {
      name: "the masker's own CPU, share of a masked /logs run",
      value: share,
      unit: '%',
      target: '<= 10 %',
    },
  ];
}

if (process.argv.includes('--child')) {
  await child(process.argv.at(-1) === 'masked');
  process.exit(0);
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run()) console.log(r);
}
