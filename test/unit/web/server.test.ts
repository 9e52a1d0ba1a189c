/**
 * The web app on a loopback socket with real run log files and hand-written stores: a long run
 * log is read from its end only (never whole), and behind a trusted reverse proxy the login
 * limit counts per client (X-Forwarded-For) and the cookie is Secure over HTTPS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setDisplayTimeZone } from '../../../src/core/format.js';
import { LiveState } from '../../../src/core/live-state.js';
import { newOperationId } from '../../../src/core/operation-id.js';
import { siteState } from '../../../src/docker/status.js';
import { FileRunLog } from '../../../src/runs/file-run-log.js';
import { createWebApp } from '../../../src/web/server.js';
import { MemoryAuditStore } from '../fakes/memory-audit-store.js';
import { MemoryOperationStore } from '../fakes/memory-operation-store.js';

const servers: Server[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function listen(app: ReturnType<typeof createWebApp>): Promise<string> {
  const s = await new Promise<Server>((resolve) => {
    const srv = app.listen(0, '127.0.0.1', () => resolve(srv));
  });
  servers.push(s);
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** An operation store holding one succeeded operation of `blog`. */
function storeWith(id: string, kind: string, createdAt: number, logPath: string | null) {
  const operations = new MemoryOperationStore();
  operations.create({
    id,
    kind,
    host: 'local',
    site: 'blog',
    args: {},
    requestedBy: { platform: 'console', id: 'a', name: 'a' },
    status: 'succeeded',
    createdAt,
    logPath,
  });
  return operations;
}

/** A FileRunLog that refuses to read a whole log. */
class TailOnlyRunLog extends FileRunLog {
  override async read(): Promise<string> {
    throw new Error('the whole log was read');
  }
}

describe('web: run logs', () => {
  it('/api/runs/:id shows a long log from its end without reading it whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siteflow-web-'));
    dirs.push(dir);
    const clock = { now: () => Date.UTC(2026, 2, 9, 12) };
    const runLog = new TailOnlyRunLog(dir, clock);
    const id = newOperationId(clock.now());
    const w = runLog.open(id);
    await w.close();
    // 5 MiB of two-byte characters: the 4 MiB cut lands inside a line (and a character).
    const line = `${'é'.repeat(499)}\n`;
    const n = Math.ceil((5 * 1024 * 1024) / Buffer.byteLength(line));
    writeFileSync(join(dir, w.path), `${'first line\n'}${line.repeat(n)}last line ✓\n`);
    const operations = storeWith(id, 'pull', clock.now(), w.path);
    const app = createWebApp({
      checks: {},
      page: {
        state: new LiveState({ hosts: ['local'], siteState }),
        audit: new MemoryAuditStore(),
        operations,
        runLog,
        runs: { events: async function* () {} },
        clock,
      },
    });
    const base = await listen(app);
    const r = await fetch(`${base}/api/runs/${id}`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { output: { lines: Array<{ text: string }>; cut: boolean } };
    expect(body.output.cut).toBe(true);
    const texts = body.output.lines.map((l) => l.text);
    expect(texts.at(-1)).toBe('last line ✓');
    expect(texts).not.toContain('first line');
    // Every line shown is whole: no partial first line, no broken character.
    for (const t of texts.slice(0, -1)) expect(t).toBe('é'.repeat(499));
    expect(texts.length - 1).toBeLessThanOrEqual(Math.floor((4 * 1024 * 1024) / Buffer.byteLength(line)));
  });
});

describe('web: local time', () => {
  it('/runs/:id shows when it started in the TZ time zone, with the instant in datetime', async () => {
    const clock = { now: () => Date.UTC(2026, 2, 9, 12) };
    const id = newOperationId(clock.now());
    const operations = storeWith(id, 'restart', clock.now(), null);
    const runs = { events: async function* () {} };
    const state = new LiveState({ hosts: ['local'], siteState });
    const runLog = new FileRunLog(tmpdir());
    const app = createWebApp({
      checks: {},
      page: { state, audit: new MemoryAuditStore(), operations, runLog, runs, clock },
    });
    const base = await listen(app);
    setDisplayTimeZone('Europe/Berlin');
    try {
      const html = await (await fetch(`${base}/runs/${id}`)).text();
      expect(html).toContain('<time datetime="2026-03-09T12:00:00.000Z">2026-03-09 13:00:00 CET</time>');
    } finally {
      setDisplayTimeZone(undefined);
    }
  });
});

/** A page over empty state, for the login tests. */
const page = () => ({
  state: new LiveState({ hosts: ['local'], siteState }),
  audit: new MemoryAuditStore(),
  operations: new MemoryOperationStore(),
  runLog: new FileRunLog(tmpdir()),
  runs: { events: async function* () {} },
});

describe('web: login behind a reverse proxy', () => {
  const TOKEN = 'sf-test-token-0123456789abcdef';
  const login = (base: string, token: string, client: string, proto = 'http') =>
    fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': client,
        'x-forwarded-proto': proto,
      },
      body: new URLSearchParams({ token, next: '/' }).toString(),
    });

  it('counts failed logins per client and sets a Secure cookie over HTTPS (WEB_TRUST_PROXY=loopback)', async () => {
    const base = await listen(
      createWebApp({
        checks: {},
        token: TOKEN,
        trustProxy: 'loopback',
        page: page(),
      }),
    );
    for (let i = 0; i < 10; i++) expect((await login(base, 'wrong', '203.0.113.7')).status).toBe(401);
    expect((await login(base, 'wrong', '203.0.113.7')).status).toBe(429);
    // Another client behind the same proxy is not locked out.
    const ok = await login(base, TOKEN, '198.51.100.4', 'https');
    expect(ok.status).toBe(303);
    expect(ok.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
  });

  it('without WEB_TRUST_PROXY forwarded headers are ignored', async () => {
    const base = await listen(createWebApp({ checks: {}, token: TOKEN, page: page() }));
    for (let i = 0; i < 10; i++) expect((await login(base, 'wrong', '203.0.113.7')).status).toBe(401);
    // The peer (127.0.0.1) is what counts: a forged X-Forwarded-For does not get round the limit.
    expect((await login(base, TOKEN, '198.51.100.4', 'https')).status).toBe(429);
  });

  it('without WEB_TRUST_PROXY a forged X-Forwarded-Proto does not make the cookie Secure', async () => {
    const base = await listen(createWebApp({ checks: {}, token: TOKEN, page: page() }));
    const ok = await login(base, TOKEN, '198.51.100.4', 'https');
    expect(ok.status).toBe(303);
    expect(ok.headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);
  });

  it('a flood of new client addresses does not reset a limited one; the overall budget then refuses everyone', async () => {
    const base = await listen(
      createWebApp({ checks: {}, token: TOKEN, trustProxy: 'loopback', page: page() }),
    );
    for (let i = 0; i < 10; i++) expect((await login(base, 'wrong', '203.0.113.7')).status).toBe(401);
    expect((await login(base, TOKEN, '203.0.113.7')).status).toBe(429);
    const flood = await Promise.all(
      Array.from({ length: 120 }, (_, i) => login(base, 'wrong', `10.1.${i >> 8}.${i & 255}`)),
    );
    expect(flood.some((r) => r.status === 429)).toBe(true);
    // Still limited, and so is a newcomer while the overall budget is spent.
    expect((await login(base, TOKEN, '203.0.113.7')).status).toBe(429);
    expect((await login(base, TOKEN, '198.51.100.99')).status).toBe(429);
  });
});

describe('web: sessions', () => {
  const TOKEN = 'sf-test-token-0123456789abcdef';
  const signIn = async (base: string) => {
    const r = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: TOKEN, next: '/' }).toString(),
    });
    expect(r.status).toBe(303);
    const cookie = r.headers.get('set-cookie') ?? '';
    expect(cookie).not.toContain(TOKEN);
    return { cookie: cookie.split(';')[0]!, header: cookie };
  };
  const status = (base: string, cookie: string) =>
    fetch(`${base}/api/status`, { headers: { cookie } }).then((r) => r.status);

  it('a session lasts WEB_SESSION_HOURS (cookie Max-Age and server side) and ends at /logout', async () => {
    const base = await listen(
      createWebApp({ checks: {}, token: TOKEN, sessionMs: 2 * 3600e3, page: page() }),
    );
    const { cookie, header } = await signIn(base);
    expect(header).toMatch(/Max-Age=7200/);
    expect(await status(base, cookie)).toBe(200);
    const out = await fetch(`${base}/logout`, { redirect: 'manual', headers: { cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login');
    expect(out.headers.get('set-cookie')).toMatch(/siteflow_session=;/);
    // The old cookie is dead even if a copy was kept.
    expect(await status(base, cookie)).toBe(401);
    const post = await fetch(`${base}/logout`, { method: 'POST', redirect: 'manual' });
    expect(post.status).toBe(303);
  });

  it('an expired session is refused', async () => {
    let now = Date.now();
    const base = await listen(
      createWebApp({
        checks: {},
        token: TOKEN,
        sessionMs: 50,
        page: { ...page(), clock: { now: () => now } },
      }),
    );
    const { cookie } = await signIn(base);
    now += 120; // past the session length, on SiteFlow's clock
    expect(await status(base, cookie)).toBe(401);
    expect(await status(base, 'siteflow_session=forged')).toBe(401);
  });
});
