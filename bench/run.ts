/**
 * `npm run bench [name...]`: runs the benchmarks, each measuring SiteFlow against a baseline
 * in the same run, and prints one table. Benchmarks that need Docker start the test
 * environment first (`test/env/setup.sh`, loopback only).
 */
import { execFileSync } from 'node:child_process';
import type { BenchResult } from './types.js';

interface Bench {
  name: string;
  needsDocker: boolean;
  load: () => Promise<{ run: (log?: (l: string) => void) => Promise<BenchResult[]> }>;
}

const BENCHES: Bench[] = [
  { name: 'audit', needsDocker: false, load: () => import('./audit.bench.js') },
  { name: 'hub', needsDocker: false, load: () => import('./hub.bench.js') },
  { name: 'masking', needsDocker: false, load: () => import('./masking.bench.js') },
  { name: 'restart', needsDocker: true, load: () => import('./restart.bench.js') },
  { name: 'restart-ssh', needsDocker: true, load: () => import('./restart-ssh.bench.js') },
  { name: 'monitor', needsDocker: true, load: () => import('./monitor.bench.js') },
  { name: 'slack-ack', needsDocker: true, load: () => import('./slack-ack.bench.js') },
  { name: 'discord-ack', needsDocker: true, load: () => import('./discord-ack.bench.js') },
  { name: 'provision', needsDocker: true, load: () => import('./provision.bench.js') },
  { name: 'web', needsDocker: false, load: () => import('./web.bench.js') },
  { name: 'stats', needsDocker: false, load: () => import('./stats.bench.js') },
  { name: 'memory', needsDocker: true, load: () => import('./memory.bench.js') },
];

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

const wanted = process.argv.slice(2);
const selected = BENCHES.filter((b) => wanted.length === 0 || wanted.includes(b.name));
if (selected.some((b) => b.needsDocker)) {
  execFileSync('bash', ['test/env/setup.sh', '--quiet'], { stdio: 'inherit' });
}
const rows: string[][] = [];
for (const b of selected) {
  console.log(`\n== ${b.name}`);
  const mod = await b.load();
  for (const r of await mod.run((l) => console.log(`   ${l}`))) {
    const ratio = r.baseline && r.baseline.value !== 0 ? `${(r.value / r.baseline.value).toFixed(2)}x` : '';
    rows.push([
      b.name,
      r.name,
      `${fmt(r.value)} ${r.unit}`,
      r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}` : '-',
      ratio,
      r.target ?? '',
    ]);
  }
}
const head = ['bench', 'measure', 'value', 'baseline (same run)', 'ratio', 'target'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(`\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
for (const r of rows) console.log(line(r));
process.exit(0);
