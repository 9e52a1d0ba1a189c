/**
 * Cost of secret masking on /logs throughput. A child process runs the real /logs action
 * (`logsSite`) through the real ActionRunner (run log file on disk, output hub with one
 * subscriber draining it) over 200,000 lines of a Docker-multiplexed log stream fed through the
 * real LogDemuxer in 64 KiB chunks. One child runs it with a SecretMasker holding 154 secrets
 * (4 of SiteFlow's own, 3 for each of 50 sites; 1 % of the lines contain one), the other with
 * no masker, each in its own process; they alternate, three rounds each, medians reported.
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
const ROUNDS = 5;
const CHUNK = 64 * 1024;

function frame(text: string): Buffer {
  const payload = Buffer.from(`${text}\n`, 'utf8');
  const h = Buffer.alloc(8);
  h.writeUInt8(1, 0);
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Child: one /logs run; prints its lines per second. */
async function child(masked: boolean): Promise<void> {
  const [{ ActionRunner }, { OutputHub }, { FileRunLog }, { SecretMasker }, { LogDemuxer }, { logsSite }] =
    await Promise.all([
      import('../src/core/runs.js'),
      import('../src/core/hub.js'),
      import('../src/runs/file-run-log.js'),
      import('../src/core/secret-mask.js'),
      import('../src/docker/log-demuxer.js'),
      import('../src/actions/logs-site.js'),
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
  const dir = mkdtempSync(join(tmpdir(), 'sf-mask-bench-'));
  const masker = new SecretMasker();
  masker.set('bench', secrets);
  const hub = new OutputHub();
  const runner = new ActionRunner({
    operations: new MemoryOperationStore(),
    audit: new MemoryAuditStore(),
    runLog: new FileRunLog(dir),
    hub,
    clock: { now: () => Date.now() },
    logger: silent,
    maxConcurrentReads: 1,
    ...(masked ? { masker } : {}),
  });
  const site = {
    host: 'local',
    name: 'bench',
    projectDir: null,
    composeFiles: [],
    state: 'up' as const,
    containers: [{ id: 'c1', service: 'web', name: 'bench-web-1' }],
  };
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
  const cpuMs = (cpu.user + cpu.system) / 1000;
  rmSync(dir, { recursive: true, force: true });
  process.send!({ linesPerSec: (LINES / ms) * 1000, linesPerCpuSec: (LINES / cpuMs) * 1000, seen });
}

interface ChildResult {
  /** Lines per second of wall time. */
  linesPerSec: number;
  /** Lines per second of the child's CPU time (less disturbed by other load on the machine). */
  linesPerCpuSec: number;
  seen: number;
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
  for (let i = 0; i < ROUNDS; i++) {
    const p = await runChild(false);
    const m = await runChild(true);
    if (p.seen !== LINES || m.seen !== LINES) throw new Error(`lines lost: ${p.seen}, ${m.seen}`);
    plain.push(p);
    masked.push(m);
    log(
      `round ${i + 1}: no masking ${p.linesPerSec.toFixed(0)} lines/s (${p.linesPerCpuSec.toFixed(0)} per CPU s), ` +
        `masking ${m.linesPerSec.toFixed(0)} lines/s (${m.linesPerCpuSec.toFixed(0)} per CPU s)`,
    );
  }
  const wall = [median(masked.map((r) => r.linesPerSec)), median(plain.map((r) => r.linesPerSec))] as const;
  const cpu = [
    median(masked.map((r) => r.linesPerCpuSec)),
    median(plain.map((r) => r.linesPerCpuSec)),
  ] as const;
  log(`masking costs ${((1 - cpu[0] / cpu[1]) * 100).toFixed(1)} % of /logs CPU throughput`);
  return [
    {
      name: `/logs per CPU second, 154 secrets masked (${LINES} lines)`,
      value: cpu[0],
      unit: 'lines/s',
      baseline: { name: 'no masking', value: cpu[1] },
      target: '>= 0.90x',
    },
    {
      name: '/logs wall-clock throughput, masked',
      value: wall[0],
      unit: 'lines/s',
      baseline: { name: 'no masking', value: wall[1] },
      target: '>= 0.90x',
    },
  ];
}

if (process.argv.includes('--child')) {
  await child(process.argv.at(-1) === 'masked');
  process.exit(0);
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run()) console.log(r);
}
