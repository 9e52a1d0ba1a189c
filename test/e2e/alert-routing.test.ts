/**
 * Alert routing end to end: with a routes file sending site A to one webhook and site B to
 * Discord (the FakeDiscord through the real discord.js client), a kill in A reaches only that
 * webhook and one in B only Discord; `/alerts routes` prints the effective routing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, testDocker, waitFor } from '../env/harness.js';
import { DiscordIds, FakeDiscord } from '../fakes/discord-server.js';
import { WebhookReceiver } from '../fakes/notify-receivers.js';
import { startTestSiteFlow, type TestSiteFlow } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
let fake: FakeDiscord;
let sf: TestSiteFlow;
let dir: string;
let docker: Docker;
let a: ComposeProject;
let b: ComposeProject;
const hookA = new WebhookReceiver();
const hookOther = new WebhookReceiver();

async function kill(p: ComposeProject): Promise<void> {
  const [c] = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${p.name}`] } });
  await docker.getContainer(c!.Id).kill();
}

beforeAll(async () => {
  docker = testDocker(env);
  const sleeper = { command: ['sleep', '3600'] };
  a = createComposeProject({ name: 'routea', services: { web: sleeper } }, env);
  b = createComposeProject({ name: 'routeb', services: { web: sleeper } }, env);
  await Promise.all([a.up(), b.up(), hookA.start(), hookOther.start()]);
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  dir = mkdtempSync(join(tmpdir(), 'sf-route-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(
    routes,
    [
      'routes:',
      `  - match: { site: ${a.name} }`,
      '    to: [webhook:client-a]',
      `  - match: { site: ${b.name} }`,
      '    to: [discord]',
      'default: [console]',
      '',
    ].join('\n'),
  );
  sf = await startTestSiteFlow(
    {
      DOCKER_HOSTS: env.dockerHost,
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_ID: DiscordIds.guild,
      DISCORD_ALERT_CHANNEL_ID: DiscordIds.ops,
      ALERT_STORM_THRESHOLD: '1000',
      NOTIFY_WEBHOOK_URLS: `client-a=${hookA.url}/a,other=${hookOther.url}/o`,
      ALERT_ROUTES_FILE: routes,
    },
    { dir },
  );
  await waitFor('sites listed', async () => {
    const s = await sf.driver.type('/status', /site\s+state/);
    return s.includes(a.name) && s.includes(b.name);
  });
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await fake?.stop();
  await Promise.all([a?.down(), b?.down(), hookA.stop(), hookOther.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('alert routing', () => {
  it('a kill in A reaches only its webhook; one in B only Discord', async () => {
    const from = sf.driver.transcript.length;
    await kill(a);
    await waitFor(
      'A on its webhook',
      () => hookA.accepted().some((r) => r.body.site === a.name && r.body.event === 'alert.opened'),
      20_000,
    );
    await kill(b);
    await fake.waitFor(
      () => fake.messagesIn(DiscordIds.ops).find((m) => m.content.includes(`${b.name} is down`)),
      20_000,
      'B on Discord',
    );
    // Both are delivered (the monitor's own state knows both); give stragglers a moment to arrive.
    await waitFor('both open', () => (sf.app.monitor?.openAlerts() ?? []).length >= 2, 10_000);
    await sf.app.monitor?.queue.idle();
    const discord = fake.messagesIn(DiscordIds.ops).map((m) => m.content);
    expect(discord.filter((t) => t.includes(a.name))).toEqual([]);
    expect(hookA.accepted().filter((r) => r.body.site === b.name)).toEqual([]);
    expect(hookOther.requests).toEqual([]);
    // The default (console) gets neither: both matched a route.
    const consoleAlerts = sf.driver.transcript
      .slice(from)
      .split('\n')
      .filter((l) => l.startsWith('» ALERT') && (l.includes(a.name) || l.includes(b.name)));
    expect(consoleAlerts).toEqual([]);
  });

  it('/alerts routes prints the effective routing', async () => {
    const out = await sf.driver.type('/alerts routes', /otherwise/);
    expect(out).toContain(`1. site=${a.name} -> webhook:client-a`);
    expect(out).toContain(`2. site=${b.name} -> discord`);
    expect(out).toContain('otherwise -> console');
  });
});
