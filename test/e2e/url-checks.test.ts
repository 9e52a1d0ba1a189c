/**
 * URL and certificate checks end to end: a site behind a real Caddy (reverse proxy to a busybox
 * httpd in a real container), SiteFlow checking the URL from the container's `siteflow.url`
 * label, alerts in FakeDiscord's ops channel through the real discord.js client.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import {
  type CaddyHandle,
  type ComposeProject,
  createComposeProject,
  freePort,
  startCaddy,
  testDocker,
  waitFor,
} from '../env/harness.js';
import { DiscordIds, FakeDiscord, type MessageModel } from '../fakes/discord-server.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
const INTERVAL_S = 5;
const DOWN_AFTER_S = 1;
let fake: FakeDiscord;
let app: SiteFlow;
let plain: SiteFlow | null = null;
let caddy: CaddyHandle;
let dir: string;
let www: string;
let docker: Docker;
let site: ComposeProject;
let kw: ComposeProject;
let tlsSite: ComposeProject;
let url: string;
let tlsUrl: string;

const HOST = 'local';

function configFor(extra: Record<string, string>) {
  return loadConfig(
    {
      SITES_ROOT: join(dir, 'sites'),
      WEB_PORT: '0',
      DOCKER_HOSTS: env.dockerHost,
      PROBE_INTERVAL_SECONDS: String(INTERVAL_S),
      PROBE_TIMEOUT_SECONDS: '3',
      ALERT_DOWN_AFTER_SECONDS: String(DOWN_AFTER_S),
      ALERT_RECOVER_AFTER_SECONDS: '1',
      // Other test files bring sites up and down on the same engine: no storm grouping with them.
      ALERT_STORM_THRESHOLD: '1000',
      ...extra,
    },
    { envFile: null },
  );
}

/** Alert posts in the ops channel about `name` (replies go to their threads). */
function alertPosts(name: string): MessageModel[] {
  return fake.messagesIn(DiscordIds.ops).filter((m) => m.content.includes(name));
}

function threadTexts(m: MessageModel): string[] {
  const threadId = fake.findMessage(m.id)?.message.threadId;
  return threadId ? fake.messagesIn(threadId).map((x) => x.content) : [];
}

beforeAll(async () => {
  docker = testDocker(env);
  dir = mkdtempSync(join(tmpdir(), 'sf-urlcheck-'));
  www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), '<h1>Welcome to the blog</h1>\n');
  caddy = await startCaddy(env, { tlsInternal: true });
  const [upstream, front, kwPort, tlsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  url = `http://127.0.0.1:${front}/`;
  // A name, not an IP: Caddy picks the certificate by SNI, and clients send none for an IP.
  tlsUrl = `https://localhost:${tlsPort}/`;
  caddy.writeSite('blog', `http://127.0.0.1:${front} {\n\treverse_proxy 127.0.0.1:${upstream}\n}\n`);
  caddy.writeSite('secure', `https://localhost:${tlsPort} {\n\ttls internal\n\trespond "secure ok" 200\n}\n`);
  const r = await caddy.reload();
  expect(r.stderr).not.toMatch(/Error/);
  const httpd = (port: number) => ({
    command: ['httpd', '-f', '-p', '8080', '-h', '/www'],
    ports: [`127.0.0.1:${port}:8080`],
    volumes: [`${www}:/www:ro`],
    restart: 'unless-stopped',
  });
  site = createComposeProject(
    { name: 'urlblog', services: { web: { ...httpd(upstream), labels: { 'siteflow.url': url } } } },
    env,
  );
  kw = createComposeProject(
    {
      name: 'urlkw',
      services: {
        web: {
          ...httpd(kwPort),
          labels: {
            'siteflow.url': `http://127.0.0.1:${kwPort}/`,
            'siteflow.url.keyword': 'Order confirmed',
          },
        },
      },
    },
    env,
  );
  tlsSite = createComposeProject(
    { name: 'urltls', services: { web: { command: ['sleep', '3600'], labels: { 'siteflow.url': tlsUrl } } } },
    env,
  );
  await Promise.all([site.up(), kw.up(), tlsSite.up()]);
  const root = join(caddy.dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt');
  await waitFor('caddy internal root CA', () => existsSync(root), 15_000);
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  app = await startSiteFlow(
    configFor({
      DATA_DIR: join(dir, 'data'),
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_ID: DiscordIds.guild,
      DISCORD_ALERT_CHANNEL_ID: DiscordIds.ops,
      PROBE_CA_FILE: root,
      // Caddy's internal certificates live 12 hours: warn above that.
      TLS_WARN_DAYS: '30',
    }),
    { logger: testLogger(), console: false },
  );
}, 120_000);

afterAll(async () => {
  await app?.stop('test done');
  await plain?.stop('test done');
  await fake?.stop();
  await Promise.all([site?.down(), kw?.down(), tlsSite?.down()]);
  await caddy?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('URL checks', () => {
  it('a page answering 404 behind Caddy: one alert naming the URL and 404; restored: one recovery', async () => {
    await waitFor('first good check', () => app.urlChecks.results(HOST, site.name)[0]?.ok === true, 20_000);
    expect(app.urlChecks.results(HOST, site.name)[0]).toMatchObject({ url, status: 200, error: null });
    unlinkSync(join(www, 'index.html'));
    const removedAt = Date.now();
    const bound = (INTERVAL_S + DOWN_AFTER_S + 2) * 1000;
    const alert = await fake.waitFor(() => alertPosts(site.name)[0], bound, 'URL alert');
    expect(Date.now() - removedAt).toBeLessThanOrEqual(bound);
    expect(alert.content).toContain(`${site.name} is down`);
    expect(alert.content).toContain(`${url} answered 404`);
    expect(alert.content).toMatch(/\(\d+ ms\)/);

    writeFileSync(join(www, 'index.html'), '<h1>Welcome to the blog</h1>\n');
    await fake.waitFor(
      () => threadTexts(alert).find((t) => t.includes('recovered')),
      (INTERVAL_S + 10) * 1000,
      'recovery',
    );
    await waitFor(
      'alert resolved',
      () => !app.monitor!.openAlerts().some((a) => a.site === site.name),
      10_000,
    );
    expect(alertPosts(site.name)).toHaveLength(1);
    expect(threadTexts(alert).filter((t) => t.includes('recovered'))).toHaveLength(1);
  });

  it('a keyword missing from the page fails the check with that reason', async () => {
    await waitFor('keyword check', () => app.urlChecks.results(HOST, kw.name).length > 0, 20_000);
    expect(app.urlChecks.results(HOST, kw.name)[0]).toMatchObject({
      ok: false,
      status: 200,
      error: 'keyword "Order confirmed" missing from the page',
    });
  });

  it('stopping the container behind a checked URL is one incident, not two', async () => {
    const before = alertPosts(site.name).length;
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${site.name}`] },
    });
    await docker.getContainer(c!.Id).stop({ t: 2 });
    await fake.waitFor(() => alertPosts(site.name)[before], 30_000, 'incident');
    // Both the container and the URL are failing now, in the same alert.
    await waitFor(
      'URL failing too',
      () => app.urlChecks.results(HOST, site.name)[0]?.ok === false,
      (INTERVAL_S + 5) * 1000,
    );
    await waitFor(
      'URL listed in the incident',
      () => app.monitor!.openAlerts().some((a) => a.site === site.name && a.lines.join('\n').includes(url)),
      10_000,
    );
    const open = app.monitor!.openAlerts().filter((a) => a.site === site.name);
    expect(open).toHaveLength(1);
    expect(open[0]!.lines.join('\n')).toMatch(/container\(s\) not up/);
    expect(alertPosts(site.name)).toHaveLength(before + 1);
  });
});

describe('certificates', () => {
  it("with PROBE_CA_FILE (Caddy's internal root): one certificate alert with the days left", async () => {
    await waitFor(
      'TLS check',
      () => app.urlChecks.results(HOST, tlsSite.name)[0]?.certificate != null,
      20_000,
    );
    const r = app.urlChecks.results(HOST, tlsSite.name)[0]!;
    expect(r).toMatchObject({ ok: true, status: 200 });
    expect(r.certificate!.issuer).toMatch(/Caddy/);
    const post = await fake.waitFor(
      () => fake.messagesIn(DiscordIds.ops).find((m) => m.content.includes('Certificate of localhost')),
      15_000,
      'certificate alert',
    );
    expect(post.content).toMatch(/expires in 0 days/);
    expect(post.content).toMatch(/h(?: \d+m)? left/);
    // Later checks see the same certificate: still one alert.
    const rounds = app.urlChecks.results(HOST, tlsSite.name)[0]!.at;
    await waitFor('another round', () => app.urlChecks.results(HOST, tlsSite.name)[0]!.at > rounds, 20_000);
    expect(
      fake.messagesIn(DiscordIds.ops).filter((m) => m.content.includes('Certificate of localhost')),
    ).toHaveLength(1);
  });

  it('without the CA file the check fails as untrusted', async () => {
    plain = await startSiteFlow(configFor({ DATA_DIR: join(dir, 'data2'), MONITOR_ENABLED: 'false' }), {
      logger: testLogger(),
      console: false,
    });
    await waitFor('untrusted check', () => plain!.urlChecks.results(HOST, tlsSite.name).length > 0, 20_000);
    const r = plain.urlChecks.results(HOST, tlsSite.name)[0]!;
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^certificate not trusted/);
    expect(
      readFileSync(join(caddy.dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt'), 'utf8'),
    ).toMatch(/BEGIN CERTIFICATE/);
  });
});
