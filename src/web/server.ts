/**
 * The HTTP side of SiteFlow, read-only: `/healthz`, and with `page` deps the status page
 * (`/`, `/graph`, `/audit`, `/runs/:id`), its JSON API (`/api/status`, `/api/graph`,
 * `/api/audit`, `/api/runs/:id`), the live stream `/api/events` and `/metrics`.
 * Only GET and HEAD are served (plus POST /login for the token form). Pages are rendered from
 * the in-memory live state (no Docker call per request) and cached per state version;
 * operations and the audit log come from SQLite.
 */

import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { isSiteFlowError } from '../core/errors.js';
import { formatTime } from '../core/format.js';
import { type HostHealthService, hostHealthLine } from '../core/host-health.js';
import type { OutputHub } from '../core/hub.js';
import type { LiveState } from '../core/live-state.js';
import { isOperationId } from '../core/operation-id.js';
import {
  AUDIT_OUTCOMES,
  type AuditOutcome,
  type AuditQuery,
  type AuditStore,
  type Clock,
  FINAL_STATUSES,
  type Logger,
  type Operation,
  type OperationStore,
  type RunLog,
} from '../core/ports.js';
import type { RunEvent } from '../core/run-events.js';
import type { StatsSource } from '../core/stats.js';
import { LoginLimiter, SESSION_COOKIE, safeNext, TokenAuth } from './auth.js';
import type { ChartSource } from './charts.js';
import { GraphLayout } from './graph.js';
import { LiveEvents } from './live-events.js';
import type { WebMetrics } from './metrics.js';
import { statsRouter } from './stats-routes.js';
import { Templates } from './templates.js';
import {
  alertsVM,
  auditVM,
  domId,
  hostVM,
  operationJson,
  operationVM,
  siteJson,
  siteVM,
  summarize,
  summaryTiles,
} from './view-model.js';

/** A named health check; it throws or returns false when unhealthy. */
export type HealthCheck = () => boolean | Promise<boolean>;

/** What the status page needs (all read-only uses). */
export interface StatusPageDeps {
  state: LiveState;
  audit: AuditStore;
  operations: OperationStore;
  runLog: RunLog;
  /** A run's events, replay then live (ActionRunner.events). */
  runs: { events(id: string): AsyncIterable<RunEvent> };
  /** For live run output replay and noticing operations start and end. */
  hub?: OutputHub;
  metrics?: WebMetrics;
  clock?: Clock;
  /** views/ folder (found next to the package by default). */
  viewsDir?: string;
  /** A cached page is re-rendered after this long even without a change, for its ages (default 5 s). */
  cacheMs?: number;
  /** Host health (a line per host on the overview). */
  hostHealth?: Pick<HostHealthService, 'latest'>;
  /** History statistics (/stats, /api/stats) and the overview's charts. */
  stats?: StatsSource & ChartSource;
}

/** What the web server needs. */
export interface WebDeps {
  host: string;
  port: number;
  logger: Logger;
  checks: Record<string, HealthCheck>;
  /** WEB_TOKEN: when set, everything but /healthz (and the login form) needs it. */
  token?: string | null;
  /**
   * WEB_TRUST_PROXY: express's 'trust proxy' (false, true, a hop count, or addresses/subnets
   * such as `loopback`): which proxies' X-Forwarded-For/-Proto decide req.ip and req.secure.
   */
  trustProxy?: boolean | number | string;
  /** WEB_SESSION_HOURS in ms: how long a login lasts (default 12 h). */
  sessionMs?: number;
  page?: StatusPageDeps;
}

/** A listening web server. */
export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** The app and what must be closed with it. */
export interface WebApp {
  app: express.Express;
  /** Live stream clients connected (null without the page). */
  live: LiveEvents | null;
  close(): void;
}

const WINDOWS: Record<string, number> = {
  '1h': 3600e3,
  '24h': 86400e3,
  '7d': 7 * 86400e3,
  '30d': 30 * 86400e3,
};
/** A run log longer than this (in bytes) is shown from its end. */
const MAX_LOG_BYTES = 4 * 1024 * 1024;
const RECENT_OPERATIONS = 12;

/** Builds the express app (exported for tests that want no socket). */
export function createWebApp(
  deps: Pick<WebDeps, 'checks'> &
    Partial<Pick<WebDeps, 'token' | 'page' | 'logger' | 'trustProxy' | 'sessionMs'>>,
): express.Express {
  return buildWebApp(deps).app;
}

/** Builds the express app with its live stream. */
export function buildWebApp(
  deps: Pick<WebDeps, 'checks'> &
    Partial<Pick<WebDeps, 'token' | 'page' | 'logger' | 'trustProxy' | 'sessionMs'>>,
): WebApp {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy ?? false);
  app.set('etag', false);
  app.set('query parser', 'simple');
  // `<`, `>` and `&` in JSON become \u003c...: data never reads as markup, whoever renders it.
  app.set('json escape', true);
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'"],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      // The page is usually served over plain HTTP on loopback; HSTS belongs to the proxy in front.
      strictTransportSecurity: false,
      referrerPolicy: { policy: 'same-origin' },
    }),
  );
  // Read-only: nothing but GET/HEAD, and the token form.
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    if (req.method === 'POST' && (req.path === '/login' || req.path === '/logout')) return next();
    res.set('Allow', 'GET, HEAD').status(405).json({ error: 'method_not_allowed' });
  });

  const page = deps.page;
  let templates: Templates | null = null;
  if (page) {
    templates = new Templates(page.viewsDir);
    app.use(
      '/static',
      express.static(join(templates.dir, 'public'), { index: false, maxAge: '1h', fallthrough: false }),
    );
  }

  app.get('/healthz', async (_req, res) => {
    const results: Record<string, boolean> = {};
    for (const [name, check] of Object.entries(deps.checks)) {
      try {
        results[name] = await check();
      } catch {
        results[name] = false;
      }
    }
    for (const h of page?.state.snapshot().hosts ?? []) {
      if (h.reachable !== null) results[`engine:${h.name}`] = h.reachable;
    }
    // Liveness: the process answers and its database works; engines are reported, not required.
    const ok = results.database !== false;
    res
      .set('Cache-Control', 'no-store')
      .status(ok ? 200 : 503)
      .json({ ok, checks: results });
  });

  // Sessions expire on the same clock as everything else on the page (tests move it).
  const sessionClock = deps.page?.clock;
  const auth = deps.token
    ? new TokenAuth(deps.token, {
        ...(deps.sessionMs !== undefined ? { sessionMs: deps.sessionMs } : {}),
        ...(sessionClock ? { now: () => sessionClock.now() } : {}),
      })
    : null;
  const limiter = new LoginLimiter();
  app.get('/login', (req, res) => {
    if (!auth || !templates) return void res.redirect(303, '/');
    sendHtml(res, templates.page('login', { title: 'Sign in', next: safeNext(req.query.next) }));
  });
  app.post('/login', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 5 }), (req, res) => {
    if (!auth || !templates) return void res.redirect(303, '/');
    // The client as the trusted proxies tell it (WEB_TRUST_PROXY), else the peer address.
    const ip = req.ip ?? req.socket.remoteAddress ?? '?';
    const now = Date.now();
    if (limiter.limited(ip, now)) {
      res.status(429);
      return void sendHtml(
        res,
        templates.page('login', { title: 'Sign in', error: 'Too many attempts; wait a minute.' }),
      );
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    if (typeof body.token === 'string' && auth.checkToken(body.token)) {
      limiter.succeeded(ip);
      res.cookie(SESSION_COOKIE, auth.startSession(), {
        httpOnly: true,
        sameSite: 'strict',
        // HTTPS to the browser (honours X-Forwarded-Proto from a trusted proxy).
        secure: req.secure,
        path: '/',
        maxAge: auth.sessionMs,
      });
      return void res.redirect(303, next);
    }
    limiter.failed(ip, now);
    res.status(401);
    sendHtml(res, templates.page('login', { title: 'Sign in', next, error: 'That token is not right.' }));
  });
  // Ends the session (GET for a plain link; POST for forms). Open: a stale cookie can always log out.
  const logout = (req: Request, res: Response) => {
    auth?.endSession(req);
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
    res.redirect(303, auth ? '/login' : '/');
  };
  app.get('/logout', logout);
  app.post('/logout', logout);
  if (auth) {
    app.use(
      auth.middleware((req) => req.path === '/healthz' || req.path === '/login' || req.path === '/logout'),
    );
  }

  let live: LiveEvents | null = null;
  if (page && templates) {
    live = mountPage(app, page, templates, deps.logger);
  }

  app.use((req, res) => {
    if (req.accepts(['html', 'json']) === 'html' && templates && !req.path.startsWith('/api/')) {
      res.status(404);
      return void sendHtml(
        res,
        templates.page('error', { title: 'Not found', message: 'There is no such page.' }),
      );
    }
    res.status(404).json({ error: 'not_found' });
  });
  app.use((e: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = isSiteFlowError(e, 'INPUT_') ? 400 : ((e as { status?: number }).status ?? 500);
    const message =
      status === 400 && e instanceof Error
        ? e.message
        : status === 404
          ? 'There is no such page.'
          : 'Something went wrong; see the SiteFlow log.';
    if (status >= 500)
      deps.logger?.error({ err: e instanceof Error ? e.message : String(e) }, 'web request failed');
    if (res.headersSent) return void res.end();
    res.status(status);
    if (req.accepts(['html', 'json']) === 'html' && templates && !req.path.startsWith('/api/')) {
      return void sendHtml(res, templates.page('error', { title: 'Error', message }));
    }
    res.json({ error: status === 400 ? 'bad_request' : 'error', message });
  });

  return {
    app,
    live,
    close() {
      live?.close();
    },
  };
}

function sendHtml(res: Response, html: string): void {
  res.set('Cache-Control', 'no-store');
  res.type('html').send(html);
}

interface Cached {
  key: string;
  at: number;
  body: Buffer;
  etag: string;
}

function cachedBody(body: string, key: string, at: number, json = false): Cached {
  const text = json ? escapeJson(body) : body;
  const buf = Buffer.from(text, 'utf8');
  return { key, at, body: buf, etag: `W/"${createHash('sha1').update(buf).digest('base64url')}"` };
}

/** The same escaping as express's `json escape`. */
export function escapeJson(s: string): string {
  return s.replace(/[<>&]/g, (c) => (c === '<' ? '\\u003c' : c === '>' ? '\\u003e' : '\\u0026'));
}

function sendCached(req: Request, res: Response, c: Cached, type: string): void {
  res.set({ 'Cache-Control': 'no-cache', ETag: c.etag });
  if (req.headers['if-none-match'] === c.etag) return void res.status(304).end();
  res.type(type).send(c.body);
}

/** Mounts the pages, the API, the live stream and /metrics. */
function mountPage(app: express.Express, page: StatusPageDeps, t: Templates, logger?: Logger): LiveEvents {
  const clock = page.clock ?? { now: () => Date.now() };
  const cacheMs = page.cacheMs ?? 5000;
  const graph = new GraphLayout();
  const log: Logger = logger ?? { debug() {}, info() {}, warn() {}, error() {}, child: () => log };
  let opsVersion = 0;
  const active = new Set<string>();
  page.hub?.onAny((id, ev) => {
    if (ev.type === 'end') {
      active.delete(id);
      opsVersion++;
      if (page.metrics) {
        try {
          const op = page.operations.get(id);
          page.metrics.operationFinished(op?.kind ?? 'unknown', ev.status);
        } catch {
          page.metrics.operationFinished('unknown', ev.status);
        }
      }
    } else if (!active.has(id)) {
      active.add(id);
      opsVersion++;
    }
  });
  const recentOps = (): Operation[] => page.operations.list({ limit: RECENT_OPERATIONS });
  const cacheKey = () => `${page.state.version}:${opsVersion}`;

  const opsContext = (now: number, ops: Operation[] = recentOps()) => ({
    operations: ops.map((o) => operationVM(o, now)),
  });
  const summaryContext = () => ({ tiles: summaryTiles(summarize(page.state.snapshot())) });
  const alertsContext = (now: number) => {
    const snap = page.state.snapshot();
    return alertsVM(snap.alerts, snap.silences, now);
  };

  const overviewHtml = (): string => {
    const now = clock.now();
    const snap = page.state.snapshot();
    return t.page('overview', {
      title: 'Status',
      nav: { overview: true },
      live: 'overview',
      version: snap.version,
      refresh: 15,
      generated: formatTime(now),
      ...summaryContext(),
      ...alertsContext(now),
      hosts: snap.hosts.map((h) => {
        const health = page.hostHealth?.latest(h.name);
        return { ...hostVM(h, now, snap.alerts, page.stats), health: health ? hostHealthLine(health) : null };
      }),
      ...opsContext(now),
    });
  };
  const graphHtml = (): string => {
    const now = clock.now();
    const snap = page.state.snapshot();
    return t.page('graph', {
      title: 'Graph',
      nav: { graph: true },
      live: 'graph',
      version: snap.version,
      refresh: 15,
      generated: formatTime(now),
      graph: graph.build(snap, now),
    });
  };

  const caches = new Map<string, Cached>();
  const refreshing = new Set<string>();
  const cached = (name: string, render: () => string): Cached => {
    const key = cacheKey();
    const have = caches.get(name);
    if (have && have.key === key) {
      // Only its ages are old: serve it and re-render after this response (stale-while-revalidate).
      if (clock.now() - have.at >= cacheMs && !refreshing.has(name)) {
        refreshing.add(name);
        setImmediate(() => {
          refreshing.delete(name);
          if (caches.get(name) === have)
            caches.set(name, cachedBody(render(), key, clock.now(), name.startsWith('api-')));
        });
      }
      return have;
    }
    const c = cachedBody(render(), key, clock.now(), name.startsWith('api-'));
    caches.set(name, c);
    return c;
  };

  app.get('/', (req, res) => sendCached(req, res, cached('overview', overviewHtml), 'html'));
  app.get('/graph', (req, res) => sendCached(req, res, cached('graph', graphHtml), 'html'));

  const statusJson = () => {
    const snap = page.state.snapshot();
    return JSON.stringify({
      version: snap.version,
      changedAt: snap.changedAt,
      summary: summarize(snap),
      hosts: snap.hosts.map((h) => ({
        name: h.name,
        reachable: h.reachable,
        reason: h.reason,
        checkedAt: h.checkedAt,
        sites: h.sites.map(siteJson),
      })),
      alerts: snap.alerts,
      silences: snap.silences,
      operations: recentOps().map(operationJson),
    });
  };
  app.get('/api/status', (req, res) => sendCached(req, res, cached('api-status', statusJson), 'json'));
  app.get('/api/graph', (req, res) =>
    sendCached(
      req,
      res,
      cached('api-graph', () => {
        const g = graph.build(page.state.snapshot(), clock.now());
        return JSON.stringify({
          version: g.version,
          width: g.width,
          height: g.height,
          nodes: g.nodes.map((n) => ({
            id: n.id,
            kind: n.kind,
            key: n.key,
            label: n.label,
            state: n.sub,
            tone: n.tone,
            x: n.x,
            y: n.y,
            width: n.w,
            height: n.h,
          })),
          edges: g.edges.map((e) => ({ from: e.from, to: e.to, kind: e.kind, path: e.d })),
        });
      }),
      'json',
    ),
  );

  // ---------------------------------------------------------------- audit
  const auditQuery = (req: Request) => {
    const str = (k: string): string | undefined => {
      const v = req.query[k];
      return typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, 200) : undefined;
    };
    const now = clock.now();
    const q: AuditQuery = {};
    const site = str('site');
    const user = str('user');
    const action = str('action');
    const outcome = str('outcome');
    const window = str('window');
    const cursor = str('cursor');
    if (site) q.site = site;
    if (user) q.actor = user;
    if (action) q.action = action;
    if (outcome) {
      if (!(AUDIT_OUTCOMES as readonly string[]).includes(outcome))
        throw badRequest(`Unknown outcome "${outcome}".`);
      q.outcome = outcome as AuditOutcome;
    }
    if (window && window !== 'all') {
      const ms = WINDOWS[window];
      if (!ms) throw badRequest(`Unknown time window "${window}".`);
      q.since = now - ms;
    }
    const from = parseTime(str('from'), 'from');
    const to = parseTime(str('to'), 'to');
    if (from !== undefined) q.since = Math.max(q.since ?? from, from);
    if (to !== undefined) q.until = to;
    const limit = Number(str('limit') ?? 50);
    q.limit = Number.isFinite(limit) ? Math.min(200, Math.max(1, Math.trunc(limit))) : 50;
    if (cursor) q.cursor = cursor;
    return {
      q,
      filters: {
        site: site ?? '',
        user: user ?? '',
        action: action ?? '',
        outcome: outcome ?? '',
        window: window ?? 'all',
        from: str('from') ?? '',
        to: str('to') ?? '',
        limit: q.limit,
      },
    };
  };
  const pageLink = (filters: Record<string, string | number>, cursor: string | null) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(filters))
      if (v !== '' && !(k === 'window' && v === 'all')) p.set(k, String(v));
    if (cursor) p.set('cursor', cursor);
    const s = p.toString();
    return `/audit${s ? `?${s}` : ''}`;
  };
  app.get('/audit', (req, res) => {
    const { q, filters } = auditQuery(req);
    const result = page.audit.query(q);
    const now = clock.now();
    sendHtml(
      res,
      t.page('audit', {
        title: 'Audit log',
        nav: { audit: true },
        live: 'audit',
        filters,
        outcomes: AUDIT_OUTCOMES.map((o) => ({ value: o, selected: o === filters.outcome })),
        windows: ['all', '1h', '24h', '7d', '30d'].map((w) => ({
          value: w,
          label: w === 'all' ? 'any time' : `last ${w}`,
          selected: w === filters.window,
        })),
        entries: result.entries.map((e) => auditVM(e, now)),
        next: result.nextCursor ? pageLink(filters, result.nextCursor) : null,
        first: q.cursor ? pageLink(filters, null) : null,
        generated: formatTime(now),
      }),
    );
  });
  app.get('/api/audit', (req, res) => {
    const { q } = auditQuery(req);
    res.set('Cache-Control', 'no-store').json(page.audit.query(q));
  });

  // ---------------------------------------------------------------- runs
  const runOutput = async (
    op: Operation,
  ): Promise<{
    lines: Array<{ stream: string; text: string; key?: string }>;
    complete: boolean;
    cut: boolean;
  }> => {
    const final = FINAL_STATUSES.includes(op.status);
    if (final && op.logPath) {
      try {
        // Only the end of a long log is read (never the whole file).
        const { text, cut } = await page.runLog.readTail(op.logPath, MAX_LOG_BYTES);
        const lines = text.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        return {
          lines: lines.map((l) =>
            l.startsWith('# ') ? { stream: 'info', text: l.slice(2) } : { stream: 'stdout', text: l },
          ),
          complete: true,
          cut,
        };
      } catch (e) {
        if (!isSiteFlowError(e, 'RUN_LOG_')) throw e;
      }
    }
    // Running (or its log is gone): what the hub still holds.
    const lines: Array<{ stream: string; text: string; key?: string }> = [];
    if (page.hub?.has(op.id)) {
      const sub = page.hub.subscribe(op.id);
      try {
        for (let n = sub.pending; n > 0; n--) {
          const r = await sub.next();
          if (r.done) break;
          const ev = r.value;
          if (ev.type === 'line') lines.push({ stream: ev.stream, text: ev.text });
          else if (ev.type === 'progress')
            lines.push({ stream: 'progress', text: `${ev.key}: ${ev.text}`, key: ev.key });
          else if (ev.type === 'skipped')
            lines.push({ stream: 'info', text: `… ${ev.lines} earlier lines not kept …` });
        }
      } finally {
        sub.close();
      }
    } else if (op.outputTail) {
      for (const l of op.outputTail.split('\n')) lines.push({ stream: 'stdout', text: l });
    }
    return { lines, complete: final, cut: false };
  };
  const findOp = (id: string): Operation | null => (isOperationId(id) ? page.operations.get(id) : null);

  app.get('/runs/:id', async (req, res) => {
    const op = findOp(req.params.id!);
    if (!op) {
      res.status(404);
      return void sendHtml(res, t.page('error', { title: 'Not found', message: 'No such operation.' }));
    }
    const out = await runOutput(op);
    const now = clock.now();
    sendHtml(
      res,
      t.page('run', {
        title: `${op.kind} ${op.site ?? ''}`.trim(),
        nav: {},
        live: out.complete ? 'run-done' : 'run',
        refresh: out.complete ? null : 5,
        op: operationVM(op, now),
        args: Object.entries(op.args).map(([k, v]) => ({
          k,
          v: typeof v === 'string' ? v : JSON.stringify(v),
        })),
        lines: out.lines.map((l) => ({ ...l, id: l.key ? domId('p', l.key) : null })),
        cut: out.cut,
        final: out.complete,
        generated: formatTime(now),
      }),
    );
  });
  app.get('/api/runs/:id', async (req, res) => {
    const op = findOp(req.params.id!);
    if (!op) return void res.status(404).json({ error: 'not_found' });
    const out = await runOutput(op);
    res.set('Cache-Control', 'no-store').json({ operation: operationJson(op), output: out });
  });

  // ---------------------------------------------------------------- live + metrics
  const live = new LiveEvents({
    state: page.state,
    logger: log,
    ...(page.hub ? { hub: page.hub } : {}),
    runEvents: (id) => page.runs.events(id),
    statePayload: ({ version, sites, structural }) => {
      const now = clock.now();
      const snap = page.state.snapshot();
      const out: Array<{ id: string; html: string | null; site: object | null }> = [];
      const nodes: Array<{ id: string; tone: string; sub: string; aria: string }> = [];
      for (const key of sites) {
        const slash = key.indexOf('/');
        const s = page.state.site(key.slice(0, slash), key.slice(slash + 1));
        if (!s) {
          out.push({ id: domId('s', key), html: null, site: null });
          continue;
        }
        out.push({
          id: domId('s', key),
          html: t.partial('site', siteVM(s, now, snap.alerts, page.stats)),
          site: siteJson(s),
        });
        nodes.push(...graph.patches(s, now));
      }
      return {
        version,
        structural,
        sites: out,
        nodes,
        summary: t.partial('summary', summaryContext()),
        alerts: t.partial('alerts', alertsContext(now)),
      };
    },
    opsPayload: () => {
      const ops = recentOps(); // one read for both halves, so they cannot disagree
      return { html: t.partial('ops', opsContext(clock.now(), ops)), operations: ops.map(operationJson) };
    },
  });
  app.get('/api/events', live.handle);
  if (page.stats) app.use(statsRouter(page.stats, clock, (ctx) => t.page('stats', ctx)));

  if (page.metrics) {
    const m = page.metrics;
    m.bind({ snapshot: () => page.state.snapshot(), sseClients: () => live.count });
    app.get('/metrics', async (_req, res) => {
      res
        .set('Cache-Control', 'no-store')
        .type(m.contentType)
        .send(await m.text());
    });
  }
  return live;
}

function badRequest(message: string): Error {
  return Object.assign(new Error(message), { status: 400 });
}

function parseTime(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  // datetime-local inputs send `2026-01-31T12:00` (no zone): read as UTC, as the page says.
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/.test(v)
    ? `${v.length === 10 ? `${v}T00:00` : v}Z`
    : v;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw badRequest(`"${name}" is not a time (use 2026-01-31T12:00, UTC).`);
  return ms;
}

/** Starts listening. */
export async function startWebServer(deps: WebDeps): Promise<WebServer> {
  const web = buildWebApp(deps);
  const server: Server = await new Promise((resolve, reject) => {
    const s = web.app.listen(deps.port, deps.host, (e?: Error) => (e ? reject(e) : resolve(s)));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${deps.host.includes(':') ? `[${deps.host}]` : deps.host}:${port}`;
  deps.logger.info({ url, token: deps.token ? 'required' : 'none' }, 'web server listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        web.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
