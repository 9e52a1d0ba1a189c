/**
 * The Discord and Slack alert channels with the real discord.js client and Bolt WebClient
 * against the protocol fakes, through the persisted delivery queue: post with buttons, thread
 * replies, edits, and failed deliveries (5xx) queued and retried, never dropped.
 */
import { App, LogLevel } from '@slack/bolt';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordAlertChannel } from '../../../src/chat/discord/discord-alert-channel.js';
import { SlackAlertChannel } from '../../../src/chat/slack/slack-alert-channel.js';
import type { AlertRecord } from '../../../src/core/alerts.js';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { SqliteAlertStore } from '../../../src/db/sqlite-alert-store.js';
import { AlertDeliveryQueue } from '../../../src/monitor/delivery-queue.js';
import { waitFor } from '../../env/harness.js';
import { DiscordIds, FakeDiscord } from '../../fakes/discord-server.js';
import { FakeSlack, SlackIds } from '../../fakes/slack-server.js';
import { testLogger } from '../../support/siteflow.js';

let n = 0;
function alert(over: Partial<AlertRecord> = {}): AlertRecord {
  n++;
  return {
    id: `al_test${n}`,
    kind: 'site',
    key: `site:local/blog${n}`,
    severity: 'critical',
    status: 'open',
    host: 'local',
    site: `blog${n}`,
    title: `blog${n} is down`,
    lines: ['1 of 1 container(s) not up.'],
    silenced: false,
    parentId: null,
    openedAt: Date.now(),
    updatedAt: Date.now(),
    resolvedAt: null,
    ackedBy: null,
    remindedAt: Date.now(),
    announced: true,
    ...over,
  };
}

/** Waits for what a chat user would eventually see. */
const until = <T>(what: string, f: () => T | undefined | false, ms = 10_000) =>
  waitFor(what, f, ms, { intervalMs: 25 });

function queueFor(db: OpenDatabase) {
  const store = new SqliteAlertStore(db.db);
  const queue = new AlertDeliveryQueue({
    store,
    clock: { now: () => Date.now() },
    logger: testLogger(),
    backoffMs: { initial: 100, max: 400 },
  });
  return { store, queue };
}

describe('DiscordAlertChannel', () => {
  let fake: FakeDiscord;
  let client: Client;
  let db: OpenDatabase;

  beforeAll(async () => {
    fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
    // No retries in discord.js: the delivery queue is what retries.
    client = new Client({
      intents: [GatewayIntentBits.Guilds],
      rest: { api: fake.apiUrl, version: '10', retries: 0 },
    });
    const ready = new Promise<void>((r) => client.once(Events.ClientReady, () => r()));
    await client.login(fake.token);
    await ready;
    db = openDatabase(':memory:');
  });
  afterAll(async () => {
    await client?.destroy();
    await fake?.stop();
    db?.close();
  });

  it('posts with buttons, replies in a thread, edits on resolve', async () => {
    const { queue } = queueFor(db);
    queue.addChannel(new DiscordAlertChannel(client, DiscordIds.ops));
    const a = alert();
    queue.post(a);
    queue.reply(a, 'down: blog-web-1 (exit 137)');
    const msg = await until('alert message', () =>
      fake.messagesIn(DiscordIds.ops).find((m) => m.content.includes(a.title)),
    );
    const ids = JSON.stringify(msg.components);
    for (const action of ['restart', 'logs', 'silence', 'ack'])
      expect(ids).toContain(`sf:alert:${action}:${a.id}`);
    const thread = await until('thread', () =>
      fake.threadsOf(DiscordIds.ops).find((t) => t.name === a.title),
    );
    await until('reply in thread', () =>
      fake.messagesIn(thread.id).find((m) => m.content.includes('blog-web-1 (exit 137)')),
    );
    queue.update({ ...a, status: 'resolved', resolvedAt: Date.now() });
    queue.reply(a, `${a.site} recovered after 5s.`);
    await until('recovery reply', () =>
      fake.messagesIn(thread.id).find((m) => m.content.includes('recovered after')),
    );
    const edited = fake.messagesIn(DiscordIds.ops).find((m) => m.id === msg.id)!;
    expect(edited.content).toContain('RESOLVED');
    expect(edited.components).toEqual([]);
    // The fake shows the reply before its answer reaches the queue: wait for the queue too.
    await until('queue empty', () => queue.length() === 0);
    queue.stop();
  });

  it('a failing Discord (5xx) keeps the alert queued and delivers it once it answers', async () => {
    const { queue } = queueFor(db);
    queue.addChannel(new DiscordAlertChannel(client, DiscordIds.ops));
    fake.injectError('POST /channels/{channel_id}/messages', 3, 503);
    const a = alert();
    queue.post(a);
    await until('a failed attempt', () =>
      fake.requests.some((r) => r.route === 'POST /channels/{channel_id}/messages' && r.status === 503),
    );
    expect(queue.length()).toBe(1);
    await until('delivered after retries', () =>
      fake.messagesIn(DiscordIds.ops).find((m) => m.content.includes(a.title)),
    );
    await until('queue empty', () => queue.length() === 0);
    expect(fake.messagesIn(DiscordIds.ops).filter((m) => m.content.includes(a.title))).toHaveLength(1);
    queue.stop();
  });

  it('an edit of a deleted message (10008 Unknown Message) is dropped and does not block the channel', async () => {
    const { queue, store } = queueFor(db);
    queue.addChannel(new DiscordAlertChannel(client, DiscordIds.ops));
    const a = alert();
    queue.post(a);
    const msg = await until('alert message', () =>
      fake.messagesIn(DiscordIds.ops).find((m) => m.content.includes(a.title)),
    );
    await until('posted', () => queue.length() === 0);
    await client.rest.delete(`/channels/${DiscordIds.ops}/messages/${msg.id}`);
    queue.update({ ...a, status: 'resolved', resolvedAt: Date.now() });
    const b = alert();
    queue.post(b);
    await until('next alert delivered', () =>
      fake.messagesIn(DiscordIds.ops).find((m) => m.content.includes(b.title)),
    );
    await until('queue empty', () => queue.length() === 0);
    expect(store.ref(a.id, 'discord')).toBeNull();
    queue.stop();
  });
});

describe('SlackAlertChannel', () => {
  let fake: FakeSlack;
  let app: App;
  let db: OpenDatabase;

  beforeAll(async () => {
    fake = await new FakeSlack().start();
    app = new App({
      token: fake.botToken,
      signingSecret: 'test-signing-secret',
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
      logLevel: LogLevel.ERROR,
    });
    db = openDatabase(':memory:');
  });
  afterAll(async () => {
    await fake?.stop();
    db?.close();
  });

  it('posts Block Kit buttons, replies in the thread, updates on resolve', async () => {
    const { queue } = queueFor(db);
    queue.addChannel(new SlackAlertChannel(app.client, SlackIds.general));
    const a = alert();
    queue.post(a);
    queue.reply(a, 'down: blog-web-1 (exit 137)');
    const msg = await until('alert message', () =>
      fake.messagesIn(SlackIds.general).find((m) => m.text.includes(a.title)),
    );
    const blocks = JSON.stringify(msg.blocks);
    for (const action of ['restart', 'logs', 'silence', 'ack'])
      expect(blocks).toContain(`"action_id":"sf_alert_${action}"`);
    expect(blocks).toContain(`"value":"${a.id}"`);
    await until('thread reply', () =>
      fake.repliesOf(SlackIds.general, msg.ts).find((m) => m.text.includes('blog-web-1 (exit 137)')),
    );
    queue.update({ ...a, status: 'resolved', resolvedAt: Date.now() });
    await until('edited', () => fake.message(SlackIds.general, msg.ts)?.text.includes('RESOLVED'));
    expect(JSON.stringify(fake.message(SlackIds.general, msg.ts)!.blocks)).not.toContain('sf_alert_restart');
    await until('queue empty', () => queue.length() === 0);
    queue.stop();
  });

  it('a failing Slack (503) keeps the alert queued and delivers it once it answers', async () => {
    const { queue } = queueFor(db);
    queue.addChannel(new SlackAlertChannel(app.client, SlackIds.general));
    fake.injectHttpError('chat.postMessage', 503, 2);
    const a = alert();
    queue.post(a);
    await until('a failed attempt', () => fake.callsOf('chat.postMessage').some((c) => c.status === 503));
    expect(queue.length()).toBe(1);
    await until('delivered', () => fake.messagesIn(SlackIds.general).find((m) => m.text.includes(a.title)));
    await until('queue empty', () => queue.length() === 0);
    expect(fake.messagesIn(SlackIds.general).filter((m) => m.text.includes(a.title))).toHaveLength(1);
    expect(fake.callsOf('chat.postMessage').filter((c) => c.status === 503)).toHaveLength(2);
    queue.stop();
  });

  it('an update of a deleted message (message_not_found) is dropped and does not block the channel', async () => {
    const { queue, store } = queueFor(db);
    queue.addChannel(new SlackAlertChannel(app.client, SlackIds.general));
    const a = alert();
    queue.post(a);
    const msg = await until('alert message', () =>
      fake.messagesIn(SlackIds.general).find((m) => m.text.includes(a.title)),
    );
    await until('posted', () => queue.length() === 0);
    await app.client.chat.delete({ channel: SlackIds.general, ts: msg.ts });
    queue.update({ ...a, status: 'resolved', resolvedAt: Date.now() });
    const b = alert();
    queue.post(b);
    await until('next alert delivered', () =>
      fake.messagesIn(SlackIds.general).find((m) => m.text.includes(b.title)),
    );
    await until('queue empty', () => queue.length() === 0);
    expect(store.ref(a.id, 'slack')).toBeNull();
    queue.stop();
  });
});
