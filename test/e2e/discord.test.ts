/**
 * SiteFlow on Discord, what only Discord does: the real discord.js client inside SiteFlow talks
 * to FakeDiscord over loopback. Guild commands and their registration, the guild gate, the
 * autocomplete interaction, embeds and Discord timestamps, the 2000-character limit and
 * attachments, no mentions, 429s and 5xx, the gateway's reconnects, the 3 s acknowledgement
 * under a burst. The flows every platform shares (run message, denial, confirmation, alert
 * buttons, Cancel) are driven on both platforms in chat-session.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { type ComposeProject, createComposeProject, testDocker, waitFor } from '../env/harness.js';
import {
  DiscordIds,
  FakeDiscord,
  type InteractionRecord,
  type MessageModel,
} from '../fakes/discord-server.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
const SPEW_LINES = 20_000;
const SUMMARY_RE = /op_[0-9a-z]{26} (succeeded|failed|cancelled|timed out|interrupted)/;

let fake: FakeDiscord;
let app: SiteFlow;
let dir: string;
let docker: Docker;
let site: ComposeProject;
let spew: ComposeProject;

/** The run's thread (started on the reply message) once it exists. */
function threadOf(rec: InteractionRecord, timeoutMs = 10_000) {
  return fake.waitFor(
    () => (rec.originalMessageId ? fake.channels.get(rec.originalMessageId) : undefined),
    timeoutMs,
    'thread on the reply',
  );
}

/** The summary message in a thread, once posted. */
function summaryIn(threadId: string, timeoutMs = 90_000): Promise<MessageModel> {
  return fake.waitFor(
    () => fake.messagesIn(threadId).find((m) => SUMMARY_RE.test(m.content)),
    timeoutMs,
    `summary in ${threadId}`,
  );
}

/** The operation id in a reply (its markdown escapes the underscore). */
const opIdIn = (s: string | undefined) => /(op\\?_[0-9a-z]{26})/.exec(s ?? '')?.[1]?.replace('\\', '') ?? '';

/** Everything a person could read in a message, all versions. */
/** Whether the latest reply shows `text`, in its content or its embeds (/status lists sites as embed fields). */
const shows = (rec: InteractionRecord, text: string) =>
  `${rec.replyContent ?? ''}${JSON.stringify(rec.replies.at(-1)?.embeds ?? [])}`.includes(text);

const everything = (threadId: string) =>
  fake
    .messagesIn(threadId)
    .flatMap((m) => m.versions.map((v) => v.content))
    .join('\n');

beforeAll(async () => {
  docker = testDocker(env);
  site = createComposeProject(
    {
      name: 'dsc',
      services: {
        web: { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'] },
        worker: {
          command: ['sh', '-c', 'while true; do echo "tick @everyone"; sleep 0.5; done'],
        },
      },
    },
    env,
  );
  // Prints SPEW_LINES numbered lines (with a code fence and a mention in them), then idles.
  spew = createComposeProject(
    {
      name: 'dspew',
      services: {
        app: {
          command: [
            'sh',
            '-c',
            `i=0; while [ $$i -lt ${SPEW_LINES} ]; do i=$$((i+1)); printf 'spew %s the quick brown fox \`\`\` @here\\n' $$i; done; exec sleep 3600`,
          ],
        },
      },
    },
    env,
  );
  await Promise.all([site.up(), spew.up()]);

  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  // A global command left over from an earlier version: registering per guild removes it.
  fake.commands.global.push({ id: '100000000000000001', name: 'stale', description: 'old', type: 1 });
  dir = mkdtempSync(join(tmpdir(), 'sf-discord-'));
  const config = loadConfig(
    {
      DATA_DIR: join(dir, 'data'),
      SITES_ROOT: join(dir, 'sites'),
      WEB_PORT: '0',
      DOCKER_HOSTS: env.dockerHost,
      HEALTH_TIMEOUT_SECONDS: '30',
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_ID: DiscordIds.guild,
      ADMINS: `discord:role:${DiscordIds.roleAdmin}`,
      OPERATORS: `discord:role:${DiscordIds.roleOperator}`,
    },
    { envFile: null },
  );
  app = await startSiteFlow(config, { logger: testLogger(), console: false });
  await waitFor('spew printed everything', async () => {
    const list = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${spew.name}`] },
    });
    if (!list[0]) return false;
    const tail = await docker.getContainer(list[0].Id).logs({ stdout: true, stderr: true, tail: 1 });
    return String(tail).includes(`spew ${SPEW_LINES} `);
  });
});

afterAll(async () => {
  await app?.stop('test done');
  await fake?.stop();
  await Promise.all([site?.down(), spew?.down()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SiteFlow on Discord', () => {
  it('registers the declared commands as guild slash commands with typed options', () => {
    const byName = new Map(fake.commands.guild.map((c) => [c.name as string, c]));
    for (const c of app.services.registry.all()) expect(byName.has(c.name)).toBe(true);
    const logs = byName.get('logs') as { options: Array<Record<string, unknown>> };
    expect(logs.options[0]).toMatchObject({ name: 'site', type: 3, required: true, autocomplete: true });
    expect(logs.options.find((o) => o.name === 'lines')).toMatchObject({
      type: 4,
      min_value: 1,
      max_value: 20_000,
    });
    const confirm = byName.get('confirm') as { options: Array<Record<string, unknown>> };
    expect(confirm.options.find((o) => o.name === 'answer')).toMatchObject({
      choices: [
        { name: 'yes', value: 'yes' },
        { name: 'no', value: 'no' },
      ],
    });
  });

  it('removes stale global commands once the guild commands are registered', () => {
    expect(fake.commands.global).toEqual([]);
    expect(fake.commands.guild.length).toBeGreaterThan(0);
  });

  it('refuses a /status from a server outside DISCORD_ALLOWED_GUILDS and from a DM: at once, privately, naming nothing, audited', async () => {
    const foreign = fake.slashCommand({
      name: 'status',
      user: DiscordIds.alice,
      guildId: '999999999999999999',
    });
    const dm = fake.slashCommand({
      name: 'restart',
      options: { site: site.name },
      user: DiscordIds.bob,
      guildId: null,
    });
    const auto = fake.autocomplete({
      name: 'restart',
      options: { site: 'dsc' },
      focused: 'site',
      guildId: '999999999999999999',
    });
    for (const rec of [foreign, dm]) {
      await fake.waitFor(() => rec.ackedAt, 3000, 'refusal');
      expect(rec.ackLatencyMs!).toBeLessThan(3000);
      expect(rec.callbackType).toBe(4);
      const msg = fake.findMessage(rec.originalMessageId!)!.message;
      const text = msg.content;
      expect(msg.ephemeral).toBe(true);
      expect(text).toBe('SiteFlow does not answer here.');
      expect(text).not.toContain(site.name);
    }
    await fake.waitFor(() => auto.autocompleteChoices, 3000, 'empty autocomplete');
    expect(auto.autocompleteChoices).toEqual([]);
    const status = app.services.audit.query({ action: 'status', actorId: DiscordIds.alice }).entries;
    expect(status[0]).toMatchObject({
      outcome: 'denied',
      details: { reason: 'guild', guild: '999999999999999999' },
    });
    const restart = app.services.audit.query({ action: 'restart', actorId: DiscordIds.bob }).entries;
    expect(restart[0]).toMatchObject({ outcome: 'denied', details: { reason: 'dm', guild: null } });
    // The home guild still works.
    const home = fake.slashCommand({ name: 'status', user: DiscordIds.alice });
    await fake.waitFor(() => shows(home, site.name), 10_000, 'home reply');
  });

  it('answers autocomplete with live site names', async () => {
    const rec = fake.autocomplete({ name: 'restart', options: { site: 'dsc' }, focused: 'site' });
    await fake.waitFor(() => rec.autocompleteChoices, 5000, 'autocomplete');
    expect(rec.callbackType).toBe(8);
    expect(rec.autocompleteChoices).toContainEqual({ name: site.name, value: site.name });
  });

  it('/status: an embed with a field per site, its last operation in Discord timestamp format', async () => {
    // A last operation to show.
    const restart = fake.slashCommand({
      name: 'restart',
      options: { site: site.name },
      user: DiscordIds.bob,
    });
    await fake.waitFor(() => restart.replyContent?.includes('started by bob'), 10_000, 'restart reply');
    await summaryIn((await threadOf(restart)).id);
    const rec = fake.slashCommand({ name: 'status', user: DiscordIds.alice });
    await fake.waitFor(() => shows(rec, site.name), 10_000, 'status');
    const version = rec.replies.at(-1)!;
    expect(version.content).toMatch(/^\*\*✓ \d+ sites?/);
    expect(version.content).not.toContain('```');
    const embed = version.embeds[0] as { fields: { name: string; value: string }[] };
    const field = embed.fields.find((f) => f.name === site.name)!;
    // That /restart is its last operation: "restart succeeded <t:…:R>", shown in each reader's zone.
    expect(field.value).toMatch(/^state: up\nup: (\d+)\/\1\nlast operation: restart succeeded <t:\d{10}:R>$/);
  });

  it(`/logs of ${SPEW_LINES} lines: nothing lost, no message over 2000, throttled edits, action not slowed`, async () => {
    const firstReq = fake.requests.length;
    const rec = fake.slashCommand({
      name: 'logs',
      options: { site: spew.name, lines: SPEW_LINES },
      user: DiscordIds.bob,
    });
    await fake.waitFor(() => rec.replyContent?.includes('started by bob'), 10_000, 'reply');
    const thread = await threadOf(rec);
    const summary = await summaryIn(thread.id, 120_000);
    expect(summary.content).toMatch(/succeeded, exit 0/);
    expect(summary.content).toContain('Full log attached');
    // Nothing the bot sent mentions anyone (the output is full of @here).
    for (const r of fake.requests.slice(firstReq))
      if ((r.body as { content?: string } | undefined)?.content?.includes('@here'))
        expect((r.body as { allowed_mentions?: unknown }).allowed_mentions).toEqual({ parse: [] });
    const file = summary.attachments[0]!;
    const opId = opIdIn(rec.replyContent);
    const op = app.services.operations.get(opId)!;
    const logFile = readFileSync(join(dir, 'data', 'logs', op.logPath!));
    // The attachment is the run log byte for byte, and the run log holds every line docker printed.
    expect(Buffer.compare(file.bytes, logFile)).toBe(0);
    const lines = logFile
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('spew '));
    expect(lines).toHaveLength(SPEW_LINES);
    lines.forEach((l, n) => {
      expect(l).toBe(`spew ${n + 1} the quick brown fox \`\`\` @here`);
    });

    const mine = fake.requests.slice(firstReq);
    for (const r of mine) {
      const c = (r.body as { content?: string } | undefined)?.content;
      if (typeof c === 'string') expect(c.length).toBeLessThanOrEqual(2000);
      expect(r.status).not.toBe(400);
    }
    for (const m of fake.messagesIn(thread.id)) {
      for (const v of m.versions) expect(v.content.length).toBeLessThanOrEqual(2000);
      // Code blocks stay closed although the output contains ```.
      if (m.content.startsWith('```')) expect(m.content.split('```').length).toBe(3);
    }
    // Writes of the progress messages (posts and edits before the final one) are at least 1 s apart.
    const writes = mine.filter(
      (r) =>
        r.status === 200 &&
        (r.route === 'PATCH /channels/{channel_id}/messages/{message_id}' ||
          r.route === 'POST /channels/{channel_id}/messages') &&
        r.path.startsWith(`/channels/${thread.id}/`),
    );
    // The progress message is edited in place at most once per second: every message's post and
    // edits are at least 1 s apart (the final flush after the end of the run excepted).
    const lastEdit = writes.findLast((r) => r.method === 'PATCH');
    const perMessage = new Map<string, number[]>();
    for (const r of writes) {
      if (r === lastEdit) continue;
      const id = r.method === 'PATCH' ? r.path.split('/').at(-1)! : (r.response as { id: string }).id;
      perMessage.set(id, [...(perMessage.get(id) ?? []), r.at]);
    }
    for (const times of perMessage.values())
      for (let n = 1; n < times.length; n++) expect(times[n]! - times[n - 1]!).toBeGreaterThanOrEqual(990);
    // The action ran at its own pace: it ended long before the chat caught up.
    const chatDone = writes.at(-1)!.at;
    expect(op.finishedAt!).toBeLessThan(chatDone);
    expect(op.finishedAt! - op.startedAt!).toBeLessThan(chatDone - op.startedAt!);
    expect(writes.length).toBeGreaterThanOrEqual(5);
  });

  it('waits out injected 429s and loses nothing', async () => {
    fake.inject429('POST /channels/{channel_id}/messages', 2, 1);
    fake.inject429('PATCH /channels/{channel_id}/messages/{message_id}', 2, 1);
    fake.inject429('PATCH /webhooks/{application_id}/{token}/messages/{message_id}', 1, 1);
    const firstReq = fake.requests.length;
    const rec = fake.slashCommand({ name: 'restart', options: { site: site.name }, user: DiscordIds.alice });
    await fake.waitFor(() => rec.replyContent?.includes('started by alice'), 15_000, 'reply');
    const thread = await threadOf(rec);
    const summary = await summaryIn(thread.id);
    expect(summary.content).toMatch(/succeeded, exit 0/);
    expect(fake.requests.slice(firstReq).filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(3);
    const text = everything(thread.id);
    expect(text).toContain('web: started');
    expect(text).toContain('worker: started');
  });

  it('still streams a started run when editing the reply keeps failing (5xx)', async () => {
    // As many 500s as discord.js tries (1 + 3 retries): the reply edit fails for good, the run
    // does not, and no injected fault is left over for the next tests.
    const before500 = fake.requests.filter((r) => r.status === 500).length;
    fake.injectError('PATCH /webhooks/{application_id}/{token}/messages/{message_id}', 4, 500);
    const rec = fake.slashCommand({ name: 'restart', options: { site: site.name }, user: DiscordIds.bob });
    const posted = await fake.waitFor(
      () =>
        fake
          .messagesIn(DiscordIds.general)
          .find((m) => /Restarting .*started by bob/.test(m.content) && !m.interactionId),
      30_000,
      'the reply posted as a channel message',
    );
    const thread = await fake.waitFor(
      () => fake.channels.get(posted.id),
      10_000,
      'thread on the posted reply',
    );
    const summary = await summaryIn(thread.id);
    expect(summary.content).toMatch(/succeeded, exit 0/);
    expect(rec.ackedAt).toBeDefined();
    expect(fake.requests.filter((r) => r.status === 500).length - before500).toBe(4);
  });

  it('keeps serving after a gateway reconnect (op 7) and a missed heartbeat ack', async () => {
    const resumes = fake.gateway.stats.resumes;
    fake.requestReconnect();
    await fake.waitFor(
      () => fake.gateway.stats.resumes > resumes && fake.gateway.connected,
      10_000,
      'resume',
    );
    const a = fake.slashCommand({ name: 'status', user: DiscordIds.carol });
    await fake.waitFor(() => shows(a, site.name), 10_000, 'status after op 7');

    const resumes2 = fake.gateway.stats.resumes;
    fake.dropHeartbeatAcks(1);
    await fake.waitFor(
      () => fake.gateway.stats.resumes > resumes2 && fake.gateway.connected,
      10_000,
      'resume',
    );
    const b = fake.slashCommand({ name: 'status', user: DiscordIds.carol });
    await fake.waitFor(() => shows(b, site.name), 10_000, 'status after zombie');
  });

  it('acknowledges 50 slash commands arriving together within the deadline', async () => {
    const users = [DiscordIds.alice, DiscordIds.bob, DiscordIds.carol];
    const recs = Array.from({ length: 50 }, (_, n) =>
      fake.slashCommand({ name: 'status', user: users[n % 3]! }),
    );
    await fake.waitFor(() => recs.every((r) => shows(r, site.name)), 30_000, '50 replies');
    for (const r of recs) {
      expect(r.callbackType).toBe(5);
      expect(r.ackLatencyMs!).toBeLessThan(3000);
      expect(r.errors).toEqual([]);
    }
  });
});
