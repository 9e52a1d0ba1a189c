/**
 * /stats and /api/stats with 200 sites and 90 days of history. A child process builds a temp
 * SQLite file (URL checks of every site: raw points for 48 h, 5-minute buckets for 30 days,
 * hourly buckets for 90 days; CPU and memory raw for 48 h; state changes, alerts and
 * operations over 90 days) and serves the real stats routes plus a baseline route that runs
 * the same SQL statements on plain better-sqlite3 and returns the rows as JSON (no aggregation,
 * no template). This process drives both with autocannon: p50/p99 latency.
 * Then the history writer: CPU time of one round of HistoryRecorder writes for 200 sites (one
 * URL check, CPU and memory each) against the same rows inserted with plain better-sqlite3,
 * as a share of a 60 s check interval.
 *
 *   npx tsx bench/stats.bench.ts
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import type { BenchResult } from './types.js';

const SITES = 200;
const DAYS = 90;
const DURATION_S = 5;
const CONNECTIONS = 2;
const H = 3_600_000;
const DAY = 24 * H;
const WRITER_ROUNDS = 200;

type FromChild =
  | { type: 'ready'; port: number; rows: number; buildMs: number }
  | { type: 'writer'; storeMs: number; plainMs: number };

// ------------------------------------------------------------------ child

async function serve(): Promise<void> {
  const [{ default: express }, db, hist, routes, { HistoryRecorder }, { LiveState }, { siteState }] =
    await Promise.all([
      import('express'),
      import('../src/db/database.js'),
      import('../src/db/sqlite-history-store.js'),
      import('../src/web/stats-routes.js'),
      import('../src/monitor/history-recorder.js'),
      import('../src/core/live-state.js'),
      import('../src/docker/status.js'),
    ]);
  const dir = mkdtempSync(join(tmpdir(), 'sf-stats-bench-'));
  const opened = db.openDatabase(join(dir, 'siteflow.db'));
  const sqlite = opened.sqlite;
  const now = Math.floor(Date.now() / H) * H + 30 * 60_000; // half way through an hour
  const t0 = Date.now();
  let rows = 0;
  const pt = sqlite.prepare(
    'INSERT INTO history_points (host, site, series, at, value, ok, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)',
  );
  const bk = sqlite.prepare(
    'INSERT INTO history_buckets (host, site, series, res, start, n, ok_n, sum, max, p50, p95) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const st = sqlite.prepare(
    'INSERT INTO history_states (host, site, at, state, note) VALUES (?, ?, ?, ?, NULL)',
  );
  const al = sqlite.prepare(
    "INSERT INTO alerts (id, kind, key, severity, status, host, site, title, lines, silenced, announced, parent_id, opened_at, updated_at, resolved_at, acked_by, reminded_at) VALUES (?, 'site', ?, 'critical', 'resolved', 'local', ?, ?, '[]', 0, 1, NULL, ?, ?, ?, NULL, ?)",
  );
  const op = sqlite.prepare(
    "INSERT INTO operations (id, kind, host, site, args, requested_by_platform, requested_by_id, requested_by_name, status, created_at, started_at, finished_at) VALUES (?, ?, 'local', ?, '{}', 'console', 'u', 'u', ?, ?, ?, ?)",
  );
  const lat = (s: number, t: number) => 30 + (s % 17) + 20 * Math.sin(t / (6 * H));
  for (let s = 0; s < SITES; s++) {
    const site = `site-${String(s).padStart(3, '0')}`;
    const url = `url:https://${site}.example/`;
    sqlite.transaction(() => {
      for (let t = now - 2 * DAY; t < now; t += 60_000) {
        pt.run('local', site, url, t, lat(s, t), t % 97 === 0 ? 0 : 1, 200);
        pt.run('local', site, 'cpu', t, 2 + (t % 13), null, null);
        pt.run('local', site, 'mem', t, 50e6 + (t % 7) * 1e6, null, null);
        rows += 3;
      }
      for (let t = Math.floor((now - 30 * DAY) / 300_000) * 300_000; t < now - 300_000; t += 300_000) {
        const v = lat(s, t);
        bk.run('local', site, url, 300_000, t, 5, 5, v * 5, v * 1.5, v, v * 1.4);
        rows++;
      }
      for (let t = Math.floor((now - DAYS * DAY) / H) * H; t < Math.floor(now / H) * H; t += H) {
        const v = lat(s, t);
        bk.run('local', site, url, H, t, 60, 59, v * 60, v * 2, v, v * 1.5);
        if (t % (7 * H) === 0) bk.run('local', site, 'die', H, t, 1, 0, 1, 1, 1, 1);
        rows += 2;
      }
      st.run('local', site, now - DAYS * DAY, 'up');
      for (let d = DAYS; d > 0; d--) {
        if ((s + d) % 9 !== 0) continue;
        const at = now - d * DAY + (s % 24) * H;
        st.run('local', site, at, 'down');
        st.run('local', site, at + 10 * 60_000, 'up');
        al.run(
          `al_${s}_${d}`,
          `site:local/${site}`,
          site,
          `${site} is down`,
          at,
          at + 600_000,
          at + 600_000,
          at,
        );
        rows += 3;
      }
      for (let d = DAYS; d > 0; d--) {
        for (const [k, kind] of ['restart', 'pull'].entries()) {
          const at = now - d * DAY + k * H + s * 1000;
          op.run(
            `op_${s}_${d}_${k}`,
            kind,
            site,
            (s + d) % 11 === 0 ? 'failed' : 'succeeded',
            at,
            at,
            at + 2000 + ((s * d) % 5000),
          );
          rows++;
        }
      }
    })();
  }
  opened.optimize();
  const buildMs = Date.now() - t0;
  const store = new hist.SqliteHistoryStore(opened.db);
  const clock = { now: () => now };

  // Baseline: the store's statements, as plain better-sqlite3, rows returned as they are
  // (arrays where the store reads arrays).
  const plain = {
    sites: sqlite.prepare('SELECT DISTINCT host, site FROM history_states'),
    before: sqlite.prepare(
      'SELECT s.host, s.site, s.at, s.state FROM (SELECT DISTINCT host, site FROM history_states) k JOIN history_states s ON s.id = (SELECT x.id FROM history_states x WHERE x.host = k.host AND x.site = k.site AND x.at < ? ORDER BY x.at DESC, x.id DESC LIMIT 1)',
    ),
    states: sqlite.prepare(
      'SELECT host, site, at, state FROM history_states WHERE at >= ? AND at < ? ORDER BY host, site, at, id',
    ),
    incidents: sqlite.prepare(
      "SELECT id, host, site, title, opened_at, resolved_at FROM alerts WHERE kind = 'site' AND parent_id IS NULL AND opened_at < ? AND (resolved_at IS NULL OR resolved_at >= ?) ORDER BY opened_at",
    ),
    urlBuckets: sqlite
      .prepare(
        "SELECT host, site, series, n, ok_n, p50, p95 FROM history_buckets WHERE res = ? AND start >= ? AND start < ? AND series >= 'url:' AND series < 'url;'",
      )
      .raw(true),
    urlRaw: sqlite
      .prepare(
        "SELECT host, site, series, value, ok FROM history_points WHERE at >= ? AND at < ? AND series >= 'url:' AND series < 'url;'",
      )
      .raw(true),
    ops: sqlite.prepare(
      "SELECT kind, host, site, status, started_at, finished_at FROM operations WHERE created_at >= ? AND status NOT IN ('queued', 'running')",
    ),
  };
  const app = express();
  app.use(routes.statsRouter(store, clock, (ctx) => JSON.stringify(ctx)));
  app.get('/bench-plain/stats', (_req, res) => {
    const since = now - DAY;
    const hour = Math.floor(now / H) * H;
    const out: Record<string, unknown> = {};
    out.sites = plain.sites.all();
    out.before = plain.before.all(now - 30 * DAY);
    out.states = plain.states.all(now - 30 * DAY, now);
    out.incidents = plain.incidents.all(now, since);
    out.buckets = plain.urlBuckets.all(H, since, hour);
    out.raw = plain.urlRaw.all(hour, now + 1);
    out.ops = plain.ops.all(since);
    res.json(out);
  });
  const server = app.listen(0, '127.0.0.1', () => {
    const port = (server.address() as { port: number }).port;
    process.send!({ type: 'ready', port, rows, buildMs } satisfies FromChild);
  });

  process.on('message', (m: { type: string }) => {
    if (m.type !== 'writer') return;
    // The history writer for 200 sites: one URL check and one CPU/memory sample per site per round.
    const state = new LiveState({ hosts: ['local'], siteState });
    const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
    const rec = new HistoryRecorder({
      store,
      state,
      clock,
      logger: silent as never,
      sampleMs: 60_000,
      retentionDays: 180,
    });
    let at = now + DAY;
    const result = (site: string) => ({
      url: `https://${site}.example/`,
      ok: true,
      status: 200,
      latencyMs: 42,
      error: null,
      at,
      certificate: null,
    });
    const ins = sqlite.prepare(
      'INSERT INTO history_points (host, site, series, at, value, ok, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const names = Array.from({ length: SITES }, (_, s) => `site-${String(s).padStart(3, '0')}`);
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    let storeMs = 0;
    let plainMs = 0;
    for (let r = 0; r < WRITER_ROUNDS; r++) {
      at += 60_000;
      let c = cpu();
      for (const n of names) rec.urlChecks('local', n, [result(n)]);
      store.addPoints(
        names.flatMap((n) => [
          { host: 'local', site: n, series: 'cpu', at, value: 3 },
          { host: 'local', site: n, series: 'mem', at, value: 5e7 },
        ]),
      );
      storeMs += cpu() - c;
      c = cpu();
      for (const n of names) {
        sqlite.transaction(() => ins.run('local', n, `url:https://${n}.example/`, at, 42, 1, 200, null))();
      }
      sqlite.transaction(() => {
        for (const n of names) {
          ins.run('local', n, 'cpu', at, 3, null, null, null);
          ins.run('local', n, 'mem', at, 5e7, null, null, null);
        }
      })();
      plainMs += cpu() - c;
    }
    process.send!({
      type: 'writer',
      storeMs: storeMs / WRITER_ROUNDS,
      plainMs: plainMs / WRITER_ROUNDS,
    } satisfies FromChild);
    server.close();
    opened.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

// ------------------------------------------------------------------ parent

function cannon(url: string): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, pipelining: 1 }, (e, r) =>
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
    const ready = await next('ready');
    const base = `http://127.0.0.1:${ready.port}`;
    log(
      `history: ${SITES} sites, ${DAYS} days, ${ready.rows} rows, built in ${(ready.buildMs / 1000).toFixed(1)} s`,
    );
    const check = await fetch(`${base}/api/stats`);
    const body = (await check.json()) as { sites: unknown[]; operations: unknown[] };
    log(`/api/stats: ${body.sites.length} sites, ${body.operations.length} operation kinds`);
    await cannon(`${base}/bench-plain/stats`); // warm-up
    await cannon(`${base}/api/stats`);
    const plain = await cannon(`${base}/bench-plain/stats`);
    const api = await cannon(`${base}/api/stats`);
    const page = await cannon(`${base}/stats`);
    const one = await cannon(`${base}/api/stats?site=site-042&since=30d`);
    log(
      `p50/p99 ms: plain ${plain.latency.p50}/${plain.latency.p99}, /api/stats ${api.latency.p50}/${api.latency.p99}, /stats ${page.latency.p50}/${page.latency.p99}, one site 30 d ${one.latency.p50}/${one.latency.p99}`,
    );
    const bad = api.non2xx + page.non2xx + one.non2xx + plain.non2xx;
    if (bad) log(`non-2xx responses: ${bad}`);
    child.send({ type: 'writer' });
    const w = await next('writer');
    log(
      `history writer: ${w.storeMs.toFixed(2)} ms CPU per round of ${SITES} sites (plain inserts ${w.plainMs.toFixed(2)} ms)`,
    );
    return [
      {
        name: '/api/stats p99 (all sites, 24 h)',
        value: api.latency.p99,
        unit: 'ms',
        baseline: { name: 'same SQL, plain', value: plain.latency.p99 },
        target: '< 50 ms',
      },
      {
        name: '/stats page p99 (all sites, 24 h)',
        value: page.latency.p99,
        unit: 'ms',
        baseline: { name: 'same SQL, plain', value: plain.latency.p99 },
        target: '< 50 ms',
      },
      {
        name: '/api/stats p99 (one site, 30 d)',
        value: one.latency.p99,
        unit: 'ms',
        baseline: { name: 'same SQL, plain', value: plain.latency.p99 },
        target: '< 50 ms',
      },
      {
        name: `history writer CPU at ${SITES} sites, 60 s interval`,
        value: (w.storeMs / 60_000) * 100,
        unit: '%',
        baseline: { name: 'plain inserts', value: (w.plainMs / 60_000) * 100 },
        target: '< 1%',
      },
    ];
  } finally {
    child.kill();
  }
}

if (process.argv.includes('--serve')) {
  void serve();
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = await run();
  console.log(JSON.stringify(results, null, 2));
  process.exit(0);
}
