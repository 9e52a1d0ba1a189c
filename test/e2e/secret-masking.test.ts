/**
 * Secret masking end to end: a container prints its site's DB_PASSWORD (from the site's .env)
 * every second, and once split over two writes. Through /logs on Discord (the real discord.js
 * against FakeDiscord) and on the console, the value appears nowhere: not in the fake's messages
 * or attachments, the console, the run log files, the SQLite files, /runs/:id or /api/runs/:id.
 * Its masked form does.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { MASK } from '../../src/core/secret-mask.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { type ComposeProject, createComposeProject, testDocker, waitFor } from '../env/harness.js';
import { DiscordIds, FakeDiscord } from '../fakes/discord-server.js';
import { ConsoleDriver } from '../support/console-driver.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const HALF = 10;

let fake: FakeDiscord;
let app: SiteFlow;
let dir: string;
let site: ComposeProject;
let driver: ConsoleDriver;
const logLines: string[] = [];

function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((n) => {
    const p = join(root, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Everything the Discord fake holds: every version of every message and every attachment. */
function discordEverything(): string {
  const out: string[] = [];
  for (const ch of fake.channels.values())
    for (const m of ch.messages) {
      for (const v of m.versions) out.push(v.content, JSON.stringify(v.embeds));
      for (const a of m.attachments) out.push(a.bytes.toString('utf8'));
    }
  return out.join('\n');
}

beforeAll(async () => {
  site = createComposeProject(
    {
      name: 'secretpr',
      services: {
        app: {
          environment: {
            // Compose interpolates it from the site's .env.
            // biome-ignore lint/suspicious/noTemplateCurlyInString: compose syntax, not JS
            DB_PASSWORD: '${DB_PASSWORD}',
            HALF_A: PASSWORD.slice(0, HALF),
            HALF_B: PASSWORD.slice(HALF),
          },
          command: [
            'sh',
            '-c',
            // A burst (so the Discord summary attaches the full log), then one line a second,
            // and the value split over two writes.
            'i=0; while [ $$i -lt 1500 ]; do echo "burst $$i db=$$DB_PASSWORD the quick brown fox jumps"; i=$$((i+1)); done; ' +
              'while true; do echo "tick db=$$DB_PASSWORD"; printf "split:%s" "$$HALF_A"; sleep 0.2; printf "%s:end\\n" "$$HALF_B"; sleep 1; done',
          ],
        },
      },
    },
    env,
  );
  writeFileSync(join(site.dir, '.env'), `DB_PASSWORD=${PASSWORD}\nDB_HOST=db\n`);
  await site.up();
  const docker = testDocker(env);
  await waitFor('the container printed the value', async () => {
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${site.name}`] },
    });
    if (!c) return false;
    return String(await docker.getContainer(c.Id).logs({ stdout: true, tail: 5 })).includes(':end');
  });

  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  dir = mkdtempSync(join(tmpdir(), 'sf-mask-'));
  driver = new ConsoleDriver();
  const config = loadConfig(
    {
      DATA_DIR: join(dir, 'data'),
      SITES_ROOT: join(dir, 'sites'),
      WEB_PORT: '0',
      DOCKER_HOSTS: env.dockerHost,
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_ID: DiscordIds.guild,
      OPERATORS: `discord:role:${DiscordIds.roleOperator}`,
    },
    { envFile: null },
  );
  app = await startSiteFlow(config, {
    logger: testLogger(logLines),
    console: true,
    consoleInput: driver.input,
    consoleOutput: driver.output,
  });
  await waitFor('site listed', () => app.live.site('local', site.name) !== undefined);
}, 180_000);

afterAll(async () => {
  await app?.stop('test done');
  await fake?.stop();
  await site?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('secret masking (real engine, Discord fake, console, page)', () => {
  it('DB_PASSWORD from the site .env never appears; its masked form does', async () => {
    // Discord: a one-shot /logs (attachment) and a short follow (live edits).
    const once = fake.slashCommand({
      name: 'logs',
      options: { site: site.name, lines: 2000 },
      user: DiscordIds.bob,
    });
    const follow = fake.slashCommand({
      name: 'logs',
      options: { site: site.name, lines: 2, follow: '4s' },
      user: DiscordIds.bob,
    });
    const done = (rec: typeof once) =>
      rec.originalMessageId
        ? fake.messagesIn(rec.originalMessageId).find((m) => /succeeded|failed/.test(m.content))
        : undefined;
    await fake.waitFor(() => done(once) && done(follow), 60_000, 'both runs summarized');
    expect(done(once)!.attachments.length).toBe(1);

    // Console.
    const out = await driver.type(`/logs ${site.name} lines:20`, /op_\w+ (succeeded|failed)/, 30_000);
    expect(out).toContain(`db=${MASK}`);
    expect(out).toContain(`split:${MASK}:end`);

    const ops = app.services.operations.list({ site: site.name, limit: 10 });
    expect(ops.length).toBe(3);
    await waitFor('all finished', () =>
      app.services.operations.list({ site: site.name, limit: 10 }).every((o) => o.finishedAt !== null),
    );

    const discord = discordEverything();
    expect(discord).toContain(MASK);
    expect(discord).toContain(`split:${MASK}:end`);
    const half = (s: string) => s.includes(PASSWORD) || s.includes(PASSWORD.slice(HALF - 4, HALF + 4));
    const places: Record<string, string> = {
      discord,
      console: driver.transcript,
      logs: logLines.join('\n'),
    };
    for (const f of filesUnder(join(dir, 'data', 'logs'))) {
      places[f] = readFileSync(f, 'utf8');
      expect(statSync(f).mode & 0o777, f).toBe(0o600);
    }
    for (const f of readdirSync(join(dir, 'data')).filter((n) => n.startsWith('siteflow.db')))
      places[f] = readFileSync(join(dir, 'data', f)).toString('latin1');
    for (const op of ops) {
      const page = await (await fetch(`${app.webUrl}/runs/${op.id}`)).text();
      const api = await (await fetch(`${app.webUrl}/api/runs/${op.id}`)).text();
      expect(page).toContain(MASK.slice(0, 1));
      expect(api).toContain(MASK);
      places[`/runs/${op.id}`] = page;
      places[`/api/runs/${op.id}`] = api;
    }
    expect(Object.keys(places).some((k) => k.endsWith('.log'))).toBe(true);
    for (const [where, text] of Object.entries(places)) expect(half(text), where).toBe(false);
  });
});
