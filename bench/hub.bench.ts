/**
 * Output hub under load: 100,000 lines through one run with three subscribers, one of
 * them slow (1 ms per event, like a rate-limited chat), against the same producer with
 * no subscriber at all. Shows that the producer is not slowed by the slow reader, that
 * fast readers get every line, and that memory stays bounded.
 *
 *   npx tsx bench/hub.bench.ts            (add --expose-gc for steadier heap numbers:
 *   node --expose-gc --import tsx bench/hub.bench.ts)
 */
import { setImmediate as tick } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { OutputHub } from '../src/core/hub.js';
import type { RunEvent } from '../src/core/run-events.js';
import type { BenchResult } from './types.js';

const LINES = 100_000;
/** Lines per macrotask, like the data events of a process pipe. */
const CHUNK = 100;
const BUFFER = 1000;
const QUEUE = 500;

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const lineOf = (i: number): RunEvent => ({
  type: 'line',
  stream: 'stdout',
  text: `Step ${i}: layer sha256:${(i * 2654435761).toString(16).padStart(12, '0')} extracted`,
  at: Date.now(),
});

/** Publishes LINES lines in chunks; returns wall time and the time spent inside publish. */
async function produce(
  hub: OutputHub,
  runId: string,
  sample?: () => void,
): Promise<{ wallMs: number; publishMs: number }> {
  let publishMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < LINES; i += CHUNK) {
    const p0 = performance.now();
    for (let j = i; j < i + CHUNK; j++) hub.publish(runId, lineOf(j));
    publishMs += performance.now() - p0;
    sample?.();
    await tick();
  }
  hub.publish(runId, {
    type: 'end',
    status: 'succeeded',
    exitCode: 0,
    error: null,
    durationMs: 0,
    at: Date.now(),
  });
  return { wallMs: performance.now() - t0, publishMs };
}

async function fastReader(hub: OutputHub, runId: string, t0: number) {
  let lines = 0;
  let skipped = 0;
  for await (const ev of hub.subscribe(runId)) {
    if (ev.type === 'line') lines++;
    else if (ev.type === 'skipped') skipped += ev.lines;
  }
  return { lines, skipped, ms: performance.now() - t0 };
}

async function slowReader(hub: OutputHub, runId: string) {
  const sub = hub.subscribe(runId);
  let lines = 0;
  let skipped = 0;
  let markers = 0;
  for await (const ev of sub) {
    if (ev.type === 'line') lines++;
    else if (ev.type === 'skipped') {
      skipped += ev.lines;
      markers++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  return { lines, skipped, markers };
}

/** Runs the benchmark and returns its numbers. */
export async function run(): Promise<BenchResult[]> {
  // Warm-up so both measured passes run optimised code.
  {
    const hub = new OutputHub({ bufferSize: BUFFER, queueSize: QUEUE });
    const r = fastReader(hub, 'warm', performance.now());
    await produce(hub, 'warm');
    await r;
  }

  // Baseline: the same producer, no subscriber.
  const baseHub = new OutputHub({ bufferSize: BUFFER, queueSize: QUEUE });
  const base = await produce(baseHub, 'base');

  // Measured: two fast subscribers and one slow one.
  const heapBefore = heapUsed();
  const hub = new OutputHub({ bufferSize: BUFFER, queueSize: QUEUE });
  hub.open('run');
  const t0 = performance.now();
  const fastA = fastReader(hub, 'run', t0);
  const fastB = fastReader(hub, 'run', t0);
  const slow = slowReader(hub, 'run');
  let maxQueued = 0;
  const loaded = await produce(hub, 'run', () => {
    maxQueued = Math.max(maxQueued, hub.stats().queuedEvents);
  });
  const [a, b] = await Promise.all([fastA, fastB]);
  const heapAfterProducer = heapUsed();
  const s = await slow;
  const stats = hub.stats();

  const fastLinesPerSec = Math.round((Math.min(a.lines, b.lines) / Math.max(a.ms, b.ms)) * 1000);
  const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
  return [
    {
      name: 'producer wall time, 3 subscribers (1 slow)',
      value: round(loaded.wallMs),
      unit: 'ms',
      baseline: { name: 'producer wall time, no subscribers', value: round(base.wallMs) },
      target:
        'within a small factor of the baseline (fast readers share the thread); never waits on the slow one',
    },
    {
      name: 'producer CPU time (build events + publish), 3 subscribers',
      value: round(loaded.publishMs),
      unit: 'ms',
      baseline: { name: 'producer CPU time, no subscribers', value: round(base.publishMs) },
    },
    {
      name: 'lines/s delivered to each fast subscriber',
      value: fastLinesPerSec,
      unit: 'lines/s',
      target: `every line: ${a.lines} and ${b.lines} of ${LINES}, ${a.skipped + b.skipped} skipped`,
    },
    { name: 'slow subscriber: lines received', value: s.lines, unit: 'lines' },
    {
      name: 'slow subscriber: lines skipped (reported by markers)',
      value: s.skipped,
      unit: 'lines',
      target: `received + skipped = ${s.lines + s.skipped} (must be ${LINES}); ${s.markers} markers`,
    },
    {
      name: 'largest total subscriber queue while producing',
      value: maxQueued,
      unit: 'events',
      target: `<= 3 x (${QUEUE} + 1)`,
    },
    {
      name: 'heap growth with the run still retained (after gc)',
      value: round((heapAfterProducer - heapBefore) / 1024 / 1024, 2),
      unit: 'MB',
      target: `bounded: ${stats.bufferedEvents} events kept of ${LINES}${gc ? '' : ' (gc not exposed: noisy)'}`,
    },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await run()) {
    const base = r.baseline ? `  (baseline ${r.baseline.name}: ${r.baseline.value} ${r.unit})` : '';
    const target = r.target ? `  [${r.target}]` : '';
    console.log(`${r.name}: ${r.value} ${r.unit}${base}${target}`);
  }
}
