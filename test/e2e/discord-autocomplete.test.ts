/**
 * Autocomplete on Discord (real discord.js against FakeDiscord) answers from memory: sites,
 * services, hosts, templates, running operations, alerts and silence targets, and keeps
 * answering while the engine behind a proxy holds every request (so no Docker call is made).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { type ComposeProject, createComposeProject, waitFor } from '../env/harness.js';
import { DiscordIds, FakeDiscord } from '../fakes/discord-server.js';
import { type DockerProxy, startDockerProxy } from '../support/docker-proxy.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');

let fake: FakeDiscord;
let app: SiteFlow;
let dir: string;
let site: ComposeProject;
let proxy: DockerProxy;

beforeAll(async () => {
  site = createComposeProject(
    { name: 'dac', services: { web: { command: ['sh', '-c', 'while true; do echo tick; sleep 1; done'] } } },
    env,
  );
  await site.up();
  proxy = await startDockerProxy(env.dockerHost);
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  dir = mkdtempSync(join(tmpdir(), 'sf-dac-'));
  app = await startSiteFlow(
    loadConfig(
      {
        DATA_DIR: join(dir, 'data'),
        SITES_ROOT: join(dir, 'sites'),
        WEB_PORT: '0',
        DOCKER_HOSTS: proxy.dockerHost,
        DISCORD_TOKEN: fake.token,
        DISCORD_API_URL: fake.apiUrl,
        DISCORD_GUILD_ID: DiscordIds.guild,
        ADMINS: `discord:role:${DiscordIds.roleAdmin}`,
        OPERATORS: `discord:role:${DiscordIds.roleOperator}`,
        MONITOR_ENABLED: 'false',
      },
      { envFile: null },
    ),
    { logger: testLogger(), console: false },
  );
  await waitFor('the site in the live state', async () => !!app.live.site('local', site.name));
});

afterAll(async () => {
  proxy?.hold(false);
  await app?.stop('test done');
  await fake?.stop();
  await proxy?.stop();
  await site?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Asks for completions of `focused` in `/name` and returns the offered values. */
async function complete(name: string, focused: string, options: Record<string, string>): Promise<string[]> {
  const rec = fake.autocomplete({ name, options, focused, user: DiscordIds.bob });
  await fake.waitFor(() => rec.autocompleteChoices, 3000, `autocomplete of ${name} ${focused}`);
  expect(rec.callbackType).toBe(8);
  // Generous bound on a loaded machine; measured well under 100 ms when idle.
  expect(rec.ackLatencyMs!).toBeLessThan(1000);
  return (rec.autocompleteChoices as { value: string }[]).map((c) => c.value);
}

describe('Discord autocomplete from memory', () => {
  it('offers templates, running operations, sites, services, alert targets, with the engine holding every request', async () => {
    // A running operation to offer: a /logs that follows for a while.
    const logs = fake.slashCommand({
      name: 'logs',
      options: { site: site.name, follow: '2m' },
      user: DiscordIds.bob,
    });
    await fake.waitFor(() => /op\\?_[0-9a-z]{26}/.exec(logs.replyContent ?? ''), 10_000, 'logs started');
    const opId = /op\\?_([0-9a-z]{26})/.exec(logs.replyContent!)![1]!;

    proxy.hold(true);
    try {
      expect(await complete('provision', 'template', { site: 'x', template: '' })).toEqual(
        expect.arrayContaining(['static', 'node', 'python', 'wordpress']),
      );
      expect(await complete('cancel', 'operation', { operation: 'op' })).toEqual([`op_${opId}`]);
      expect(await complete('restart', 'site', { site: 'da' })).toContain(site.name);
      expect(await complete('restart', 'service', { site: site.name, service: '' })).toEqual(['web']);
      expect(
        await complete('silence', 'target', { target: site.name.slice(0, 3), duration: '1h' }),
      ).toContain(site.name);
    } finally {
      proxy.hold(false);
    }
    // Whatever reached the proxy meanwhile was background work (the reconciler, stats): held,
    // never answered, and autocomplete did not wait for it.
    fake.slashCommand({ name: 'cancel', options: { operation: `op_${opId}` }, user: DiscordIds.bob });
  });
});
