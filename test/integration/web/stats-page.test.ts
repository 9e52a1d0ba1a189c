/**
 * The overview's charts, the /stats page and accessibility in real Chromium (playwright-core)
 * against the whole app and the real engine. The site's 30 days of URL checks and states are
 * seeded into the real history store (a test cannot wait a month); today's states are recorded
 * live. axe-core (WCAG 2.1 A and AA rules) runs on /, /graph, /audit, /runs/:id and /stats in
 * light and dark. Screenshots go to test/artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HistoryPoint, SqliteHistoryStore } from '../../../src/db/sqlite-history-store.js';
import { domId } from '../../../src/web/view-model.js';
import { type ComposeProject, createComposeProject, REPO_DIR, waitFor } from '../../env/harness.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../support/chromium.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const ARTIFACTS = path.join(REPO_DIR, 'test/artifacts');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DAY = 86_400_000;

let sf: TestSiteFlow;
let site: ComposeProject;
let browser: Browser;
let runId = '';

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: Array<{ target: string[]; failureSummary: string }>;
}

async function axe(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE);
  const r = (await page.evaluate(
    "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })",
  )) as { violations: AxeViolation[] };
  return r.violations;
}

function describeViolations(vs: AxeViolation[]): string {
  return vs
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(' ')}: ${n.failureSummary}`).join('\n')}`,
    )
    .join('\n');
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  site = createComposeProject({ name: 'charts', services: { web: { command: ['sleep', '3600'] } } }, env);
  await site.up();
  sf = await startTestSiteFlow({ DOCKER_HOSTS: env.dockerHost, HEALTH_TIMEOUT_SECONDS: '20' });
  await waitFor('site listed', () => sf.app.live.site('local', site.name) !== undefined, 20_000);
  // History for the site: 30 days of states with a 3-hour outage, 26 hours of URL checks every 5 minutes.
  const store = sf.app.services.history as SqliteHistoryStore;
  const now = Date.now();
  const points: HistoryPoint[] = [];
  for (let t = now - 26 * 3_600_000; t < now - 10 * 60_000; t += 5 * 60_000)
    points.push({
      host: 'local',
      site: site.name,
      series: 'url:https://charts.example/',
      at: t,
      value: 40 + 30 * Math.sin(t / 7_200_000) + (t % 7) * 2,
      ok: true,
      status: 200,
    });
  store.addPoints(points);
  store.rollup(now);
  // Older than anything the recorder wrote live: the bar's first 29 days.
  store.recordState('local', site.name, now - 30 * DAY, 'up');
  store.recordState('local', site.name, now - 12 * DAY, 'down');
  store.recordState('local', site.name, now - 12 * DAY + 3 * 3_600_000, 'up');
  const out = await sf.driver.type(`/restart local/${site.name}`, /op_\w+ succeeded/, 60_000);
  runId = /(op_[0-9a-z]{26})/.exec(out)![1]!;
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await sf?.stop();
  await site?.down();
});

describe('charts, /stats and accessibility', () => {
  it('the overview shows a 30-day uptime bar and a 24 h latency sparkline per site, with text alternatives (desktop, phone, dark screenshots)', async () => {
    for (const [name, opts] of [
      ['desktop', { viewport: { width: 1280, height: 900 } }],
      ['phone', { viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 }],
      ['dark', { viewport: { width: 1280, height: 900 }, colorScheme: 'dark' as const }],
    ] as const) {
      const ctx = await browser.newContext(opts);
      const page = await ctx.newPage();
      await page.goto(`${sf.app.webUrl}/`);
      const card = page.locator(`article[data-state] >> text=${site.name}`).first();
      await card.waitFor();
      const article = page.locator('article', { has: page.locator(`h3:text-is("${site.name}")`) });
      const bar = article.locator('svg.uptime');
      const spark = article.locator('svg.spark');
      expect(await bar.getAttribute('role')).toBe('img');
      expect(await bar.getAttribute('aria-label')).toMatch(/^Uptime, last 30 days: /);
      expect(await bar.locator('rect').count()).toBe(30);
      expect(await spark.getAttribute('aria-label')).toMatch(
        /^Latency, last 24 h: median \d+ ms, highest \d+ ms\.$/,
      );
      expect(await spark.locator('polyline').getAttribute('points')).toMatch(
        /^[\d.]+,[\d.]+( [\d.]+,[\d.]+){100,}$/,
      );
      // Readable at phone width: the charts stay inside the card.
      const cardBox = (await article.boundingBox())!;
      const barBox = (await bar.boundingBox())!;
      expect(barBox.x + barBox.width).toBeLessThanOrEqual(cardBox.x + cardBox.width + 0.5);
      // Live updates may replace the card meanwhile: scroll by id, as often as needed.
      await waitFor('card in view', () =>
        page.evaluate(
          (id) => {
            const el = (
              globalThis as unknown as {
                document: { getElementById(i: string): { scrollIntoView(o: unknown): void } | null };
              }
            ).document.getElementById(id);
            el?.scrollIntoView({ block: 'center' });
            return el !== null;
          },
          domId('s', `local/${site.name}`),
        ),
      );
      await page.screenshot({ path: path.join(ARTIFACTS, `charts-overview-${name}.png`), fullPage: false });
      await ctx.close();
    }
  });

  it('/stats shows operations statistics and the sites, for all or one site', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(`${sf.app.webUrl}/stats?since=24h`);
    const restart = page.locator('#ops-stats tr[data-kind="restart"] td');
    expect(await restart.nth(1).textContent()).toMatch(/^\d+$/);
    expect(Number(await restart.nth(1).textContent())).toBeGreaterThanOrEqual(1);
    await page.goto(`${sf.app.webUrl}/stats?site=${site.name}&since=30d`);
    const row = page.locator(`#site-stats tr[data-site="local/${site.name}"] td`);
    // 3 hours down in 30 days (plus the seconds of the restart): 99.5x%.
    expect(await row.nth(3).textContent()).toMatch(/^99\.[45]\d%$/);
    expect(await row.nth(5).textContent()).toMatch(/^\d+ ms \/ \d+ ms$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'stats-desktop.png'), fullPage: true });
    const bad = await page.goto(`${sf.app.webUrl}/stats?since=never`);
    expect(bad!.status()).toBe(400);
    await ctx.close();
  });

  it('axe-core finds no WCAG 2.1 AA violation on /, /graph, /audit, /runs/:id and /stats, light and dark', async () => {
    const found: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
      const page = await ctx.newPage();
      for (const p of ['/', '/graph', '/audit', `/runs/${runId}`, '/stats']) {
        await page.goto(`${sf.app.webUrl}${p}`);
        await page.waitForLoadState('domcontentloaded');
        const v = await axe(page);
        if (v.length) found.push(`${colorScheme} ${p}:\n${describeViolations(v)}`);
      }
      await ctx.close();
    }
    expect(found.join('\n\n')).toBe('');
  });
});
