/**
 * Status page under load. A child process runs the web stack (express app, live state of
 * 200 sites and 1,000 containers of synthetic state with CPU/memory samples, SQLite with recent
 * operations) and, in the same express app, a static copy of the rendered overview
 * (`/bench-static/overview.html`, the same bytes). This process drives it:
 * - autocannon on the static file, then on `/`: p50/p99 latency and requests per second;
 * - 100 clients on `/api/events`; the child flips a container's state 50 times and reports
 *   when; each client's receipt of the `state` event is timed against it;
 * - resident memory of the child (VmRSS and peak VmHWM from /proc).
 * The child is the web stack only: no Docker engine, no chat adapters (not part of this bench).
 *
 *   npx tsx bench/web.bench.ts
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { percentile as pct } from './stats.js';
import type { BenchResult } from './types.js';

const SITES = 200;
const PER_SITE = 5;
const SSE_CLIENTS = 100;
const CHANGES = 50;
const DURATION_S = 5;
/** Throughput is measured with 10 connections; latency with 2 (a couple of open dashboards). */
const CONNECTIONS = 10;
const LATENCY_CONNECTIONS = 2;

type FromChild =
  | { type: 'ready'; port: number }
  | { type: 'changed'; at: number; version: number }
  | { type: 'memory'; rss: number };

const now = () => performance.timeOrigin + performance.now();

// ------------------------------------------------------------------ child: the server

async function serve(): Promise<void> {
  const [
    { default: express },
    { LiveState },
    { siteState },
    db,
    audit,
    ops,
    { FileRunLog },
    { OutputHub },
    web,
    { WebMetrics },
  ] = await Promise.all([
    import('express'),
    import('../src/core/live-state.js'),
    import('../src/docker/status.js'),
    import('../src/db/database.js'),
    import('../src/db/sqlite-audit-store.js'),
    import('../src/db/sqlite-operation-store.js'),
    import('../src/runs/file-run-log.js'),
    import('../src/core/hub.js'),
    import('../src/web/server.js'),
    import('../src/web/metrics.js'),
  ]);
  type Info = import('../src/core/engine.js').ContainerInfo;
  const dir = mkdtempSync(join(tmpdir(), 'sf-web-bench-'));
  const database = db.openDatabase(join(dir, 'siteflow.db'));
  const operations = new ops.SqliteOperationStore(database.db);
  const t0 = Date.now();
  for (let i = 0; i < 40; i++) {
    const id = `op_01jb3m8x2z9d7g4k6n5q1r${String(i).padStart(4, '0')}`.slice(0, 29);
    operations.create({
      id,
      kind: i % 2 ? 'restart' : 'pull',
      host: 'local',
      site: `site-${i}`,
      args: {},
      requestedBy: { platform: 'console', id: 'bench', name: 'bench' },
      status: 'queued',
      createdAt: t0 - i * 60_000,
      logPath: null,
    });
    operations.update(id, {
      status: 'succeeded',
      startedAt: t0 - i * 60_000,
      finishedAt: t0 - i * 60_000 + 4000,
    });
  }
  const live = new LiveState({ hosts: ['local', 'edge'], siteState });
  const container = (site: number, j: number, running: boolean): Info => {
    const id = `${site.toString(16).padStart(4, '0')}${j.toString(16).padStart(4, '0')}`.padEnd(64, 'a');
    return {
      id,
      name: `site-${site}-svc${j}-1`,
      service: `svc${j}`,
      project: `site-${site}`,
      state: running ? 'running' : 'exited',
      health: j === 0 ? 'healthy' : null,
      exitCode: running ? null : 1,
      restartCount: site % 7,
      restartPolicy: 'unless-stopped',
      image: `registry.example.com/team/app-${j}:1.${site}`,
      imageId: 'sha256:0',
      digest: null,
      createdAt: t0 - 86400e3,
      startedAt: t0 - 3600e3,
      finishedAt: running ? null : t0 - 60e3,
      ports:
        j === 0 ? [{ host: '127.0.0.1', hostPort: 8000 + site, containerPort: 80, protocol: 'tcp' }] : [],
      labels: { 'com.docker.compose.project': `site-${site}`, 'org.opencontainers.image.title': `App ${j}` },
      status: running ? 'up' : 'down',
    };
  };
  for (const host of ['local', 'edge']) {
    const sites = [];
    for (let s = 0; s < SITES / 2; s++) {
      const n = host === 'local' ? s : s + SITES / 2;
      const containers = Array.from({ length: PER_SITE }, (_, j) => container(n, j, true));
      sites.push({
        host,
        name: `site-${n}`,
        projectDir: null,
        composeFiles: ['compose.yml'],
        containers,
        state: 'up' as const,
      });
    }
    live.replaceHostSites(host, sites);
    const snap = live.snapshot();
    live.setStats(
      host,
      snap.hosts
        .find((h) => h.name === host)!
        .sites.flatMap((s) => s.containers)
        .map((c, i) => ({
          containerId: c.id,
          stats: {
            cpuPercent: (i * 7) % 100,
            memoryBytes: 50e6 + i * 1e5,
            memoryLimitBytes: 2e9,
            memoryPercent: 2.5,
            at: t0,
          },
        })),
    );
  }
  const app = web.buildWebApp({
    checks: { database: () => true },
    page: {
      state: live,
      audit: new audit.SqliteAuditStore(database.db),
      operations,
      runLog: new FileRunLog(join(dir, 'logs')),
      runs: { events: async function* () {} },
      hub: new OutputHub(),
      metrics: new WebMetrics(),
    },
  });
  // The baseline: the rendered overview as a static file, served by the same express.
  const html = await (await fetchLocal(app.app, '/')).text();
  const staticDir = join(dir, 'static');
  mkdirSync(staticDir);
  writeFileSync(join(staticDir, 'overview.html'), html);
  const outer = express();
  outer.disable('x-powered-by');
  outer.use('/bench-static', express.static(staticDir));
  outer.use(app.app);
  const server = outer.listen(0, '127.0.0.1', () => {
    process.send!({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies FromChild);
  });
  let flip = false;
  process.on('message', (m: { type: string }) => {
    if (m.type === 'change') {
      flip = !flip;
      const at = now();
      live.putContainer('local', container(7, 1, !flip));
      process.send!({ type: 'changed', at, version: live.version } satisfies FromChild);
    } else if (m.type === 'memory') {
      process.send!({ type: 'memory', rss: process.memoryUsage().rss } satisfies FromChild);
    } else if (m.type === 'stop') {
      app.close();
      server.close();
      server.closeAllConnections();
      database.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
}

/** One request to an express app on a temporary socket. */
async function fetchLocal(app: http.RequestListener, path: string): Promise<Response> {
  const s = http.createServer(app);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    return await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}${path}`).then(
      async (r) => new Response(await r.text(), { status: r.status }),
    );
  } finally {
    s.close();
  }
}

// ------------------------------------------------------------------ parent: the load

function cannon(url: string, connections = CONNECTIONS): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: DURATION_S, pipelining: 1 }, (e, r) =>
      e ? reject(e) : resolve(r),
    );
  });
}

/** Runs the benchmark. */
export async function run(log: (l: string) => void = console.log): Promise<BenchResult[]> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: FromChild[] = [];
  const waiters: Array<() => void> = [];
  child.on('message', (m: FromChild) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const next = async <T extends FromChild['type']>(type: T): Promise<Extract<FromChild, { type: T }>> => {
    for (;;) {
      const i = messages.findIndex((m) => m.type === type);
      if (i >= 0) return messages.splice(i, 1)[0] as Extract<FromChild, { type: T }>;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  try {
    const { port } = await next('ready');
    const base = `http://127.0.0.1:${port}`;
    const page = await fetch(`${base}/`);
    const size = (await page.arrayBuffer()).byteLength;
    log(`overview: ${SITES} sites, ${SITES * PER_SITE} containers, ${(size / 1024).toFixed(0)} KiB of HTML`);

    await cannon(`${base}/bench-static/overview.html`); // warm-up of both paths
    await cannon(`${base}/`);
    const stat = await cannon(`${base}/bench-static/overview.html`);
    const dyn = await cannon(`${base}/`);
    log(
      `${CONNECTIONS} connections: static ${stat.requests.average} req/s (p99 ${stat.latency.p99} ms), overview ${dyn.requests.average} req/s (p99 ${dyn.latency.p99} ms)`,
    );
    const statL = await cannon(`${base}/bench-static/overview.html`, LATENCY_CONNECTIONS);
    const dynL = await cannon(`${base}/`, LATENCY_CONNECTIONS);
    log(
      `${LATENCY_CONNECTIONS} connections: static p50 ${statL.latency.p50} ms, p99 ${statL.latency.p99} ms; overview p50 ${dynL.latency.p50} ms, p99 ${dynL.latency.p99} ms`,
    );
    if (dyn.non2xx || stat.non2xx) log(`non-2xx: overview ${dyn.non2xx}, static ${stat.non2xx}`);

    // 100 live clients; time from each state change to each client's `state` event.
    const received: Array<Array<{ version: number; at: number }>> = [];
    const reqs: http.ClientRequest[] = [];
    await Promise.all(
      Array.from({ length: SSE_CLIENTS }, (_, i) => {
        received[i] = [];
        return new Promise<void>((resolve, reject) => {
          const req = http.get(`${base}/api/events`, { agent: false }, (res) => {
            res.setEncoding('utf8');
            let buf = '';
            res.on('data', (chunk: string) => {
              const at = now();
              buf += chunk;
              let end = buf.indexOf('\n\n');
              while (end >= 0) {
                const frame = buf.slice(0, end);
                buf = buf.slice(end + 2);
                end = buf.indexOf('\n\n');
                if (frame.startsWith('retry:') || frame.includes('event: hello')) resolve();
                if (!frame.includes('event: state')) continue;
                const m = /"version":(\d+)/.exec(frame);
                if (m) received[i]!.push({ version: Number(m[1]), at });
              }
            });
          });
          req.on('error', reject);
          reqs.push(req);
        });
      }),
    );
    const lat: number[] = [];
    let missed = 0;
    for (let k = 0; k < CHANGES; k++) {
      child.send({ type: 'change' });
      const { at, version } = await next('changed');
      const deadline = Date.now() + 3000;
      while (received.some((r) => !r.some((x) => x.version >= version)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      for (const r of received) {
        const got = r.find((x) => x.version >= version);
        if (got) lat.push(got.at - at);
        else missed++;
      }
      await new Promise((r) => setTimeout(r, 60));
    }
    for (const r of reqs) r.destroy();
    lat.sort((a, b) => a - b);
    log(
      `live: ${lat.length} deliveries to ${SSE_CLIENTS} clients, ${missed} missed; p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms`,
    );

    child.send({ type: 'memory' });
    const { rss } = await next('memory');
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    log(
      `memory: rss ${(rss / 2 ** 20).toFixed(1)} MiB, peak ${(hwm / 2 ** 20).toFixed(1)} MiB (web stack only; no chat adapters)`,
    );

    return [
      {
        name: `overview p50 latency (${LATENCY_CONNECTIONS} conns)`,
        value: dynL.latency.p50,
        unit: 'ms',
        baseline: { name: 'static file', value: statL.latency.p50 },
      },
      {
        name: `overview p99 latency (${LATENCY_CONNECTIONS} conns)`,
        value: dynL.latency.p99,
        unit: 'ms',
        baseline: { name: 'static file', value: statL.latency.p99 },
        target: '< 50 ms',
      },
      {
        name: `overview p99 latency (${CONNECTIONS} conns)`,
        value: dyn.latency.p99,
        unit: 'ms',
        baseline: { name: 'static file', value: stat.latency.p99 },
      },
      {
        name: `overview requests/s (${CONNECTIONS} conns)`,
        value: dyn.requests.average,
        unit: 'req/s',
        baseline: { name: 'static file', value: stat.requests.average },
        target: '>= 0.5x static',
      },
      { name: `state change -> SSE p50 (${SSE_CLIENTS} clients)`, value: pct(lat, 50), unit: 'ms' },
      {
        name: `state change -> SSE p99 (${SSE_CLIENTS} clients)`,
        value: pct(lat, 99),
        unit: 'ms',
        target: '< 500 ms',
      },
      { name: 'SSE deliveries missed', value: missed, unit: 'events', target: '0' },
      { name: 'resident memory (web stack)', value: rss / 2 ** 20, unit: 'MiB', target: '< 150 MiB' },
      { name: 'peak resident memory (web stack)', value: hwm / 2 ** 20, unit: 'MiB', target: '< 150 MiB' },
    ];
  } finally {
    child.send({ type: 'stop' });
    await new Promise<void>((r) => {
      if (child.exitCode !== null) return r();
      child.once('exit', () => r());
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  }
}

if (process.argv.includes('--serve')) {
  await serve();
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await run()) console.log(r);
}
