/**
 * Proves FakeDiscord with the real discord.js 14 client over loopback (no SiteFlow code).
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  type ChatInputCommandInteraction,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  type Interaction,
  Routes,
  type TextChannel,
} from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordIds, FakeDiscord } from '../../fakes/discord-server.js';

let fake: FakeDiscord;
let client: Client;
const received: Interaction[] = [];

/** Resolves with the next interaction the client emits whose id matches. */
function interactionFor(id: string): Promise<Interaction> {
  return fake.waitFor(() => received.find((i) => i.id === id), 10_000, `interaction ${id}`);
}

beforeAll(async () => {
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  client = new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: { api: fake.apiUrl, version: '10', retries: 1, timeout: 5000 },
  });
  client.on(Events.InteractionCreate, (i) => {
    received.push(i);
  });
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(fake.token);
  await ready;
});

afterAll(async () => {
  await client?.destroy();
  await fake?.stop();
});

describe('FakeDiscord + discord.js', () => {
  it('logs in over GET /gateway/bot, IDENTIFY, READY and GUILD_CREATE', () => {
    expect(client.user?.id).toBe(fake.applicationId);
    const guild = client.guilds.cache.get(DiscordIds.guild);
    expect(guild?.name).toBe('SiteFlow Test');
    expect(guild?.channels.cache.map((c) => c.name).sort()).toEqual(['general', 'ops']);
    expect(guild?.roles.everyone.id).toBe(DiscordIds.guild);
    expect(
      fake.requests.some((r) => r.route === 'GET /gateway/bot' && r.status === 200 && r.authorized),
    ).toBe(true);
    expect(fake.gateway.stats.identifies).toBe(1);
  });

  it('registers guild commands with PUT', async () => {
    await client.application!.commands.set(
      [
        {
          name: 'deploy',
          description: 'Deploy a site',
          options: [{ type: 3, name: 'site', description: 'Site' }],
        },
      ],
      DiscordIds.guild,
    );
    expect(fake.commands.guild.map((c) => c.name)).toEqual(['deploy']);
  });

  it('runs a slash command: defer, edit, thread, thread messages, followup with a file', async () => {
    const rec = fake.slashCommand({ name: 'deploy', options: { site: 'blog' }, user: DiscordIds.alice });
    const i = (await interactionFor(rec.id)) as ChatInputCommandInteraction;
    expect(i.isChatInputCommand()).toBe(true);
    expect(i.commandName).toBe('deploy');
    expect(i.options.getString('site')).toBe('blog');
    expect(i.channelId).toBe(DiscordIds.general);
    expect(i.user.username).toBe('alice');
    expect(i.inCachedGuild() && i.member.roles.cache.has(DiscordIds.roleAdmin)).toBe(true);

    await i.deferReply();
    expect(rec.callbackType).toBe(5);
    expect(rec.ackLatencyMs).toBeLessThan(3000);
    const loading = fake.messagesIn(DiscordIds.general).at(-1)!;
    expect(loading.flags & 128).toBe(128);

    const reply = await i.editReply('Deploying blog');
    expect(reply.id).toBe(rec.originalMessageId);
    expect(rec.replyContent).toBe('Deploying blog');
    expect(fake.requests.some((r) => r.path.endsWith('/messages/@original') && r.method === 'PATCH')).toBe(
      true,
    );

    const thread = await reply.startThread({ name: 'deploy blog' });
    expect(thread.id).toBe(reply.id);
    expect(fake.threadsOf(DiscordIds.general).map((t) => t.name)).toEqual(['deploy blog']);

    const step = await thread.send('step 1: pulling');
    await step.edit('step 1: pulled');
    await thread.send('step 2: restarting');
    const inThread = fake.messagesIn(thread.id);
    expect(inThread.map((m) => m.content)).toEqual(['step 1: pulled', 'step 2: restarting']);
    expect(inThread[0]!.versions.map((v) => v.content)).toEqual(['step 1: pulling', 'step 1: pulled']);

    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, n) => n % 256));
    const follow = await i.followUp({
      content: 'full log',
      files: [{ attachment: bytes, name: 'deploy.log' }],
    });
    expect(follow.attachments.first()?.name).toBe('deploy.log');
    const stored = rec.followups[0]!.attachments[0]!;
    expect(Buffer.compare(stored.bytes, bytes)).toBe(0);
    const downloaded = Buffer.from(await (await fetch(follow.attachments.first()!.url)).arrayBuffer());
    expect(Buffer.compare(downloaded, bytes)).toBe(0);
    const upload = fake.requests.find((r) => r.route === 'POST /webhooks/{application_id}/{token}')!;
    expect(upload.files[0]?.field).toBe('files[0]');
    expect(upload.query.wait).toBe('true');
  });

  it('rejects content over 2000 characters with 50035 and an errors tree', async () => {
    const rec = fake.slashCommand({ name: 'deploy', options: { site: 'blog' } });
    const i = (await interactionFor(rec.id)) as ChatInputCommandInteraction;
    const error = await i.reply('x'.repeat(2001)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscordAPIError);
    const apiError = error as DiscordAPIError;
    expect(apiError.code).toBe(50035);
    expect(apiError.status).toBe(400);
    expect(apiError.rawError).toMatchObject({
      errors: { data: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } } },
    });
    expect(rec.ackedAt).toBeUndefined();
    await i.reply('x'.repeat(2000));
    expect(rec.callbackType).toBe(4);

    const channel = client.channels.cache.get(DiscordIds.ops) as TextChannel;
    const sendError = await channel.send('y'.repeat(2001)).catch((e: unknown) => e);
    expect((sendError as DiscordAPIError).code).toBe(50035);
    const embeds = Array.from({ length: 11 }, (_, n) => ({ title: `e${n}` }));
    const embedError = await channel.send({ embeds }).catch((e: unknown) => e);
    expect((embedError as DiscordAPIError).code).toBe(50035);
    expect((embedError as DiscordAPIError).rawError).toMatchObject({ errors: { embeds: { _errors: [{}] } } });
    expect(fake.messagesIn(DiscordIds.ops).some((m) => m.content.startsWith('y'))).toBe(false);
  });

  it('answers a second acknowledgement with 40060 and a late one with 10062', async () => {
    const rec = fake.slashCommand({ name: 'deploy' });
    const i = await interactionFor(rec.id);
    await (i as ChatInputCommandInteraction).deferReply();
    const again = await client.rest
      .post(Routes.interactionCallback(i.id, rec.token), { body: { type: 5 }, auth: false })
      .catch((e: unknown) => e);
    expect((again as DiscordAPIError).code).toBe(40060);

    const late = fake.slashCommand({ name: 'deploy' });
    const j = (await interactionFor(late.id)) as ChatInputCommandInteraction;
    late.age(fake.options.ackDeadlineMs + 100);
    const lateError = await j.deferReply().catch((e: unknown) => e);
    expect((lateError as DiscordAPIError).code).toBe(10062);
    expect(late.ackedAt).toBeUndefined();
    expect(late.callbacks.map((c) => c.code)).toEqual([10062]);
  });

  it('retries by itself after an injected 429 and follows X-RateLimit headers without hitting 429', async () => {
    const channel = client.channels.cache.get(DiscordIds.ops) as TextChannel;
    const rateLimited: unknown[] = [];
    client.rest.on('rateLimited', (info) => rateLimited.push(info));
    fake.inject429('POST /channels/{channel_id}/messages', 1, 1);
    const before = fake.requests.length;
    const sent = await channel.send('after a 429');
    const attempts = fake.requests
      .slice(before)
      .filter((r) => r.route === 'POST /channels/{channel_id}/messages');
    expect(attempts.map((r) => r.status)).toEqual([429, 200]);
    expect(rateLimited.length).toBe(1);
    expect(fake.messagesIn(DiscordIds.ops).filter((m) => m.content === 'after a 429')).toHaveLength(1);
    expect(sent.content).toBe('after a 429');

    // Seven sends against a 5-per-5s bucket: discord.js waits on the headers, the fake never says 429.
    const start = fake.requests.length;
    for (let n = 0; n < 7; n++) await channel.send(`burst ${n}`);
    const burst = fake.requests.slice(start);
    expect(burst.every((r) => r.status === 200)).toBe(true);
    expect(burst.some((r) => r.rateLimit?.remaining === 0)).toBe(true);
    expect(fake.messagesIn(DiscordIds.ops).filter((m) => m.content.startsWith('burst'))).toHaveLength(7);
  });

  it('handles a button click with an update and an autocomplete with choices', async () => {
    const channel = client.channels.cache.get(DiscordIds.general) as TextChannel;
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('confirm:restart').setLabel('Confirm').setStyle(ButtonStyle.Danger),
    );
    const msg = await channel.send({ content: 'Restart blog?', components: [row] });
    const click = fake.buttonClick({ customId: 'confirm:restart', message: msg.id, user: DiscordIds.bob });
    const b = await interactionFor(click.id);
    expect(b.isButton() && b.customId).toBe('confirm:restart');
    if (b.isButton()) await b.update({ content: 'Restarting blog', components: [] });
    expect(click.callbackType).toBe(7);
    const model = fake.findMessage(msg.id)!.message;
    expect(model.content).toBe('Restarting blog');
    expect(model.components).toEqual([]);

    const ac = fake.autocomplete({ name: 'deploy', options: { site: 'bl' }, focused: 'site' });
    const a = await interactionFor(ac.id);
    expect(a.isAutocomplete() && a.options.getFocused()).toBe('bl');
    if (a.isAutocomplete()) await a.respond([{ name: 'blog', value: 'blog' }]);
    expect(ac.autocompleteChoices).toEqual([{ name: 'blog', value: 'blog' }]);
  });

  it('survives op 7 reconnect and keeps receiving interactions', async () => {
    const resumes = fake.gateway.stats.resumes;
    fake.requestReconnect();
    await fake.waitFor(
      () => fake.gateway.stats.resumes > resumes && fake.gateway.connected,
      10_000,
      'RESUME',
    );
    const rec = fake.slashCommand({ name: 'deploy', options: { site: 'shop' } });
    const i = (await interactionFor(rec.id)) as ChatInputCommandInteraction;
    await i.reply('still here');
    expect(rec.replyContent).toBe('still here');
    expect(fake.gateway.stats.identifies).toBe(1);
  });

  it('survives a missed heartbeat ack (zombie connection -> resume) and keeps receiving interactions', async () => {
    const resumes = fake.gateway.stats.resumes;
    fake.dropHeartbeatAcks(1);
    await fake.waitFor(
      () => fake.gateway.stats.resumes > resumes && fake.gateway.connected,
      10_000,
      'RESUME',
    );
    const rec = fake.slashCommand({ name: 'deploy', options: { site: 'wiki' } });
    const i = (await interactionFor(rec.id)) as ChatInputCommandInteraction;
    await i.deferReply();
    await i.editReply('alive after zombie');
    expect(rec.replyContent).toBe('alive after zombie');
  });

  it('replays an interaction dispatched while the client was disconnected', async () => {
    const resumes = fake.gateway.stats.resumes;
    fake.gateway.closeConnections(4000, 'test close');
    const rec = fake.slashCommand({ name: 'deploy', options: { site: 'queued' } });
    await fake.waitFor(() => fake.gateway.stats.resumes > resumes, 10_000, 'RESUME');
    const i = (await interactionFor(rec.id)) as ChatInputCommandInteraction;
    expect(i.options.getString('site')).toBe('queued');
  });

  it('rejects bot routes without the bot token', async () => {
    const res = await fetch(`${fake.apiUrl}/v10/users/@me`);
    expect(res.status).toBe(401);
    const ok = await fetch(`${fake.apiUrl}/v10/users/@me`, {
      headers: { Authorization: `Bot ${fake.token}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-limit')).not.toBeNull();
  });
});
