/**
 * The status page in real Chromium (playwright-core) against the whole app and the real engine:
 * overview and graph show the test sites, a `docker stop` turns the row and the node red without
 * a reload (and a start turns them back), a running /restart streams into /runs/:id, the audit
 * page filters and pages, untrusted text (a compose project label, a description label, log
 * lines) renders as text, no response carries a container secret or WEB_TOKEN, and with
 * WEB_TOKEN set every page but /healthz needs it. Screenshots go to test/artifacts/.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { domId } from '../../../src/web/view-model.js';
import {
  type ComposeProject,
  createComposeProject,
  REPO_DIR,
  testDocker,
  testLabels,
  waitFor,
} from '../../env/harness.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../support/chromium.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const SECRET = `sf-secret-${randomBytes(12).toString('hex')}`;
const TOKEN = `sf-token-${randomBytes(16).toString('hex')}`;
const XSS_LABEL = '<script>alert(1)</script>';
const XSS_PROJECT = `<img src=x onerror=alert(3)>${env.runId}`;
const ARTIFACTS = path.join(REPO_DIR, 'test/artifacts');

let docker: Docker;
let sf: TestSiteFlow;
let site: ComposeProject;
let strayId = '';
let browser: Browser;
let ctx: BrowserContext;
const dialogs: string[] = [];
/** Every body the browser and the tests received, scanned for secrets at the end. */
const bodies: string[] = [];

const auth = { authorization: `Bearer ${TOKEN}` };
const url = (p: string) => `${sf.app.webUrl}${p}`;

async function get(p: string, headers: Record<string, string> = auth): Promise<Response> {
  const r = await fetch(url(p), { headers, redirect: 'manual' });
  return r;
}

async function containerId(service: string): Promise<string> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${site.name}`, `com.docker.compose.service=${service}`] },
  });
  return list[0]!.Id;
}

async function newPage(): Promise<Page> {
  const page = await ctx.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('response', async (r) => {
    if (r.url().includes('/api/events')) return;
    try {
      bodies.push((await r.text()) + JSON.stringify(await r.allHeaders()));
    } catch {
      // a redirect or an aborted load has no body
    }
  });
  return page;
}

beforeAll(async () => {
  docker = testDocker(env);
  mkdirSync(ARTIFACTS, { recursive: true });
  site = createComposeProject(
    {
      name: 'page',
      services: {
        web: {
          // Slow to become healthy, so a restart runs for a few seconds.
          command: ['sh', '-c', 'sleep 2; exec httpd -f -p 8080 -h /etc'],
          environment: { SECRET },
          labels: { 'siteflow.description': XSS_LABEL },
          healthcheck: {
            test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/hostname'],
            interval: '1s',
            retries: 30,
          },
        },
        worker: {
          command: ['sh', '-c', 'while true; do echo "<script>alert(2)</script> tick"; sleep 1; done'],
          environment: { SECRET },
        },
      },
    },
    env,
  );
  await site.up();
  // A container whose compose project label is markup: not a valid site name, so it is skipped.
  const stray = await docker.createContainer({
    Image: env.images.busybox,
    Cmd: ['sleep', '600'],
    Env: [`SECRET=${SECRET}`],
    Labels: testLabels({ 'com.docker.compose.project': XSS_PROJECT, 'com.docker.compose.service': 'x' }),
    HostConfig: { Init: true },
  });
  await stray.start();
  strayId = stray.id;
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    WEB_TOKEN: TOKEN,
    HEALTH_TIMEOUT_SECONDS: '60',
  });
  await waitFor(
    'web healthy',
    async () => {
      const r = await get('/api/status');
      const s = (await r.json()) as {
        hosts: Array<{
          sites: Array<{ name: string; containers: Array<{ service: string; health: string }> }>;
        }>;
      };
      return s.hosts.some((h) =>
        h.sites.some(
          (x) =>
            x.name === site.name && x.containers.some((c) => c.service === 'web' && c.health === 'healthy'),
        ),
      );
    },
    60_000,
  );
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Log in once through the form: the session cookie carries every later page.
  const page = await newPage();
  await page.goto(url('/'));
  expect(page.url()).toContain('/login');
  await page.fill('input[name=token]', 'wrong');
  await page.click('button[type=submit]');
  await page.waitForSelector('.error');
  expect(await page.textContent('.error')).toContain('not right');
  await page.fill('input[name=token]', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL(url('/'));
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === 'siteflow_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');
  await page.close();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await sf?.stop();
  await site?.down();
  if (strayId)
    await docker
      .getContainer(strayId)
      .remove({ force: true })
      .catch(() => {});
});

describe('status page', () => {
  it('every page but /healthz needs the token; nothing but GET/HEAD is served', async () => {
    const health = await get('/healthz', {});
    expect(health.status).toBe(200);
    const h = (await health.json()) as { ok: boolean; checks: Record<string, boolean> };
    expect(h.checks.database).toBe(true);
    expect(h.checks['engine:local']).toBe(true);
    const paths = [
      '/',
      '/graph',
      '/audit',
      '/runs/op_01jb3m8x2z9d7g4k6n5q1r0s2t',
      '/api/status',
      '/api/graph',
      '/api/audit',
      '/api/events',
      '/api/runs/x',
      '/metrics',
    ];
    for (const p of paths) {
      const variants: Record<string, string>[] = [
        {},
        { authorization: 'Bearer nope' },
        { cookie: 'siteflow_session=forged' },
      ];
      for (const headers of variants) {
        const r = await get(p, headers);
        expect([401, 303], `${p} ${JSON.stringify(headers)}`).toContain(r.status);
        if (r.status === 303) expect(r.headers.get('location')).toMatch(/^\/login\?next=/);
        bodies.push(await r.text());
      }
    }
    for (const p of ['/', '/graph', '/audit', '/api/status', '/api/graph', '/api/audit', '/metrics']) {
      const r = await get(p);
      expect(r.status, p).toBe(200);
      bodies.push(await r.text());
    }
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toMatch(/siteflow_sites\{state="up"\} \d+/);
    expect(metrics).toMatch(/siteflow_containers\{status="up"\} \d+/);
    expect(metrics).toContain('siteflow_chat_delivery_queue');
    expect(metrics).toContain('siteflow_process_resident_memory_bytes');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await fetch(url('/'), { method, headers: auth });
      expect(r.status, method).toBe(405);
    }
    const head = await fetch(url('/'), { method: 'HEAD', headers: auth });
    expect(head.status).toBe(200);
    const csp = head.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('overview and graph show the test sites and their containers (screenshots in test/artifacts)', async () => {
    const page = await newPage();
    await page.goto(url('/'));
    const card = page.locator(`#${domId('s', `local/${site.name}`)}`);
    await expect.poll(() => card.count()).toBe(1);
    const text = (await card.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain(site.name);
    expect(text).toContain('web');
    expect(text).toContain('worker');
    expect(text).toMatch(/healthy/);
    expect(text).toMatch(/\d+ restarts/);
    expect(text).toMatch(/backup: not checked/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-desktop.png'), fullPage: false });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-phone.png'), fullPage: false });
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.goto(url('/graph'));
    const svg = page.locator('svg#graph');
    expect(await svg.getAttribute('role')).toBeTruthy();
    expect(await page.locator('svg#graph > title').textContent()).toContain('Hosts, sites');
    for (const service of ['web', 'worker']) {
      const node = page.locator(`#${domId('gc', `local/${await containerId(service)}`)}`);
      expect(await node.getAttribute('aria-label')).toContain(`of site ${site.name}: up`);
      expect(await node.getAttribute('role')).toBe('img');
      expect(await node.locator('title').textContent()).toContain(site.name);
    }
    expect(await page.locator(`#${domId('gs', `local/${site.name}`)}`).count()).toBe(1);
    expect(await page.locator(`#${domId('gb', `local/${site.name}`)}`).count()).toBe(1);
    expect(await page.locator('#g-nas').count()).toBe(1);
    await page.locator(`#${domId('gs', `local/${site.name}`)}`).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'graph-desktop.png'), fullPage: false });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'graph-phone.png'), fullPage: false });
    await page.close();
  });

  it('a docker stop turns the row and the node red within 2 s without reload; a start turns them back', async () => {
    const overview = await newPage();
    const graph = await newPage();
    await overview.goto(url('/'));
    await graph.goto(url('/graph'));
    const id = await containerId('worker');
    const row = `#${domId('c', `local/${id}`)}`;
    const node = `#${domId('gc', `local/${id}`)}`;
    const siteCard = `#${domId('s', `local/${site.name}`)}`;
    expect(await overview.getAttribute(row, 'class')).toContain('t-good');
    expect(await graph.getAttribute(node, 'class')).toContain('t-good');
    // Marks the loaded documents: a reload would lose the marks.
    await overview.evaluate(() => Object.assign(globalThis, { __mark: 1 }));
    await graph.evaluate(() => Object.assign(globalThis, { __mark: 1 }));
    // The live stream is connected before the change.
    await overview.waitForSelector('#conn.on');
    await graph.waitForSelector('#conn.on');

    await docker.getContainer(id).stop({ t: 1 });
    await overview.waitForSelector(`${row}.t-bad`, { timeout: 2000 });
    await graph.waitForSelector(`${node}.t-bad`, { timeout: 2000 });
    expect(await overview.getAttribute(siteCard, 'data-state')).toBe('degraded');
    expect(await overview.locator(`${row} [data-role=status]`).textContent()).toBe('down');
    expect(await graph.locator(`${node} .ns`).textContent()).toContain('down');

    await docker.getContainer(id).start();
    await overview.waitForSelector(`${row}.t-good`, { timeout: 2000 });
    await graph.waitForSelector(`${node}.t-good`, { timeout: 2000 });
    expect(await overview.getAttribute(siteCard, 'data-state')).toBe('up');

    expect(await overview.evaluate(() => (globalThis as { __mark?: number }).__mark)).toBe(1);
    expect(await graph.evaluate(() => (globalThis as { __mark?: number }).__mark)).toBe(1);
    await overview.close();
    await graph.close();
  });

  it('a running /restart streams its output to /runs/:id live', async () => {
    const out = await sf.driver.type(`/restart ${site.name}`, /\((op_[0-9a-z]{26})\)/);
    const opId = /\((op_[0-9a-z]{26})\)/.exec(out)![1]!;
    const page = await newPage();
    await page.goto(url(`/runs/${opId}`));
    const initial = await page.locator('#output').innerText();
    expect(await page.locator('#run-status').textContent()).toMatch(/running|queued/);
    expect(initial).not.toMatch(/web: up \(healthy\)/);
    await page.evaluate(() => Object.assign(globalThis, { __mark: 1 }));
    // (waitForFunction would need eval, which the page's CSP rightly forbids.)
    await page.locator('#run-status', { hasText: /^succeeded$/ }).waitFor({ timeout: 60_000 });
    const final = await page.locator('#output').innerText();
    expect(final).toContain('web: stopping');
    expect(final).toMatch(/web: up \(healthy\)/);
    expect(await page.evaluate(() => (globalThis as { __mark?: number }).__mark)).toBe(1);
    // After the end the stored log is served in full, the same lines.
    await page.reload();
    expect(await page.locator('#output').innerText()).toMatch(/web: up \(healthy\)/);
    const api = (await (await get(`/api/runs/${opId}`)).json()) as {
      operation: { status: string };
      output: { lines: Array<{ text: string }>; complete: boolean };
    };
    expect(api.operation.status).toBe('succeeded');
    expect(api.output.complete).toBe(true);
    expect(api.output.lines.some((l) => l.text.includes('web: up (healthy)'))).toBe(true);
    // The overview lists it among the recent operations.
    await page.goto(url('/'));
    expect(await page.locator(`#op-${opId}`).innerText()).toContain('succeeded');
    await page.close();
  });

  it('the audit page filters and pages', async () => {
    const auditSite = `audit-${env.runId}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    const now = Date.now();
    for (let i = 0; i < 25; i++) {
      sf.app.services.audit.record({
        at: now - i * 60_000,
        actor: { platform: 'console', id: i % 2 ? 'alice' : 'bob', name: i % 2 ? 'alice' : 'bob' },
        action: i % 3 ? 'restart' : 'pull',
        host: 'local',
        site: auditSite,
        outcome: i % 5 === 0 ? 'failed' : 'ok',
        durationMs: 1000 + i,
        details: { args: { n: i } },
      });
    }
    sf.app.services.audit.record({
      at: now - 40 * 86400e3,
      actor: { platform: 'console', id: 'alice', name: 'alice' },
      action: 'restart',
      site: auditSite,
      outcome: 'failed',
      details: { args: { n: 'old' } },
    });
    const page = await newPage();
    await page.goto(url(`/audit?site=${auditSite}&limit=10`));
    const seen: string[] = [];
    for (let p = 0; p < 3; p++) {
      const ids = await page
        .locator('#audit-table tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')!));
      expect(ids.length).toBe(p < 2 ? 10 : 6);
      for (const i of ids) expect(seen).not.toContain(i);
      seen.push(...ids);
      if (p < 2) await Promise.all([page.waitForURL(/cursor=/), page.click('#next-page')]);
    }
    expect(await page.locator('#next-page').count()).toBe(0);
    // Newest first across pages.
    const details = await page.locator('#audit-table td.details').allInnerTexts();
    expect(details.at(-1)).toBe('n=old');

    // Filters through the form: user + outcome + window.
    await page.goto(url(`/audit?site=${auditSite}`));
    await page.fill('input[name=user]', 'alice');
    await page.selectOption('select[name=outcome]', 'failed');
    await page.selectOption('select[name=window]', '30d');
    await Promise.all([page.waitForURL(/outcome=failed/), page.click('form.filters button[type=submit]')]);
    const rows = await page.locator('#audit-table tbody tr').allInnerTexts();
    // i odd (alice) and i % 5 == 0 (failed) within 25: i = 5, 15; the 40-day-old one is outside 30d.
    expect(rows.length).toBe(2);
    for (const r of rows) {
      expect(r).toContain('alice');
      expect(r).toContain('failed');
    }
    await page.selectOption('select[name=window]', 'all');
    await Promise.all([
      page.waitForURL(/window=all|^(?!.*window=)/),
      page.click('form.filters button[type=submit]'),
    ]);
    expect(await page.locator('#audit-table tbody tr').count()).toBe(3);
    const api = (await (await get(`/api/audit?site=${auditSite}&user=alice&outcome=failed`)).json()) as {
      entries: unknown[];
    };
    expect(api.entries.length).toBe(3);
    const bad = await get('/api/audit?cursor=not-a-cursor');
    expect(bad.status).toBe(400);
    await page.close();
  });

  it('untrusted text (a description label, log lines) renders as text; a markup project label is no site', async () => {
    const page = await newPage();
    await page.goto(url('/'));
    const body = await page.locator('body').innerText();
    expect(body).toContain(XSS_LABEL);
    // A label that fails the site-name validator never becomes a site; the log says why.
    expect(body).not.toContain(XSS_PROJECT);
    expect(sf.logLines.join('\n')).toMatch(/not a valid site name.*compose project skipped/);
    expect(await page.locator('script').count()).toBe(1);
    expect(await page.locator('img').count()).toBe(0);
    await page.goto(url('/graph'));
    expect(await page.locator('svg#graph').innerHTML()).not.toContain('img src=x');
    expect(await page.locator('img').count()).toBe(0);

    const out = await sf.driver.type(`/logs ${site.name} worker`, /\((op_[0-9a-z]{26})\)/);
    const opId = /\((op_[0-9a-z]{26})\)/.exec(out)![1]!;
    await waitFor('logs done', () => sf.app.services.operations.get(opId)?.status === 'succeeded');
    await page.goto(url(`/runs/${opId}`));
    expect(await page.locator('#output').innerText()).toContain('<script>alert(2)</script> tick');
    expect(await page.locator('script').count()).toBe(1);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('no response contains a container secret or WEB_TOKEN', async () => {
    // Also the live stream: read its first events.
    const ac = new AbortController();
    const r = await fetch(url('/api/events'), { headers: auth, signal: ac.signal });
    const reader = r.body!.getReader();
    const first = await reader.read();
    bodies.push(new TextDecoder().decode(first.value));
    ac.abort();
    for (const p of ['/', '/graph', '/api/status', '/api/graph', '/metrics', '/healthz'])
      bodies.push(await (await get(p)).text());
    expect(bodies.length).toBeGreaterThan(20);
    for (const b of bodies) {
      expect(b).not.toContain(SECRET);
      expect(b).not.toContain(TOKEN);
    }
  });
});
