/**
 * Proves FakeSlack and SlackSender with the real @slack/bolt App (HTTP receiver and Socket Mode)
 * and the real @slack/web-api client over loopback (no SiteFlow code).
 */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel } from '@slack/bolt';
import { ErrorCode, type WebAPIPlatformError } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSlack, SlackIds, SlackSender } from '../../fakes/slack-server.js';

const signingSecret = 'test-signing-secret-0123456789';
const retryConfig = { retries: 3, factor: 1, minTimeout: 20, maxTimeout: 50, randomize: false };

let fake: FakeSlack;
let app: App;
let sender: SlackSender;
const handled: { command: string; text: string }[] = [];
const flows: Promise<void>[] = [];

beforeAll(async () => {
  fake = await new FakeSlack({ socketPingIntervalMs: 200 }).start();
  app = new App({
    token: fake.botToken,
    signingSecret,
    clientOptions: { slackApiUrl: fake.apiUrl, retryConfig },
    logLevel: LogLevel.ERROR,
  });
  app.command('/ping', async ({ ack, command }) => {
    handled.push({ command: command.command, text: command.text });
    await ack();
  });
  app.command('/deploy', async ({ ack, command, client, respond }) => {
    handled.push({ command: command.command, text: command.text });
    await ack({ response_type: 'ephemeral', text: `Deploying ${command.text}` });
    const flow = (async () => {
      const parent = await client.chat.postMessage({
        channel: command.channel_id,
        text: `Deploy ${command.text}`,
      });
      const reply = await client.chat.postMessage({
        channel: command.channel_id,
        thread_ts: parent.ts!,
        text: 'step 1: pulling',
      });
      await client.chat.update({ channel: command.channel_id, ts: reply.ts!, text: 'step 1: pulled' });
      await client.filesUploadV2({
        channel_id: command.channel_id,
        thread_ts: parent.ts!,
        file: Buffer.from(Array.from({ length: 3000 }, (_, n) => (n * 7) % 256)),
        filename: 'deploy.log',
        title: 'deploy log',
        initial_comment: 'full log',
      });
      await respond({ response_type: 'ephemeral', text: 'done' });
    })();
    flows.push(flow);
  });
  app.action('confirm', async ({ ack, respond }) => {
    await ack();
    await respond({ replace_original: true, text: 'Confirmed' });
  });
  const server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
  const { port } = server.address() as AddressInfo;
  sender = new SlackSender({ url: `http://127.0.0.1:${port}/slack/events`, signingSecret, fake });
});

afterAll(async () => {
  await app?.stop();
  await fake?.stop();
});

describe('FakeSlack + Bolt HTTP receiver', () => {
  it('delivers a signed slash command; the app acks, threads, updates, uploads and responds', async () => {
    const delivery = await sender.slashCommand({ command: '/deploy', text: 'blog', userId: SlackIds.alice });
    expect(delivery.status).toBe(200);
    expect(delivery.json).toEqual({ response_type: 'ephemeral', text: 'Deploying blog' });
    expect(handled.at(-1)).toEqual({ command: '/deploy', text: 'blog' });
    await flows.at(-1);

    const [parent] = fake.messagesIn(SlackIds.general);
    expect(parent?.text).toBe('Deploy blog');
    const replies = fake.repliesOf(SlackIds.general, parent!.ts);
    expect(replies.map((m) => m.text)).toEqual(['step 1: pulled', 'full log']);
    expect(replies[0]!.versions.map((v) => v.text)).toEqual(['step 1: pulling', 'step 1: pulled']);
    const file = replies[1]!.files[0]!;
    expect(file.filename).toBe('deploy.log');
    const expected = Buffer.from(Array.from({ length: 3000 }, (_, n) => (n * 7) % 256));
    expect(Buffer.compare(file.bytes!, expected)).toBe(0);
    expect(fake.uploads.at(-1)?.authorized).toBe(true);

    expect(delivery.responseUrl?.posts.map((p) => p.body)).toEqual([
      { response_type: 'ephemeral', text: 'done' },
    ]);
    expect(fake.ephemerals.at(-1)).toMatchObject({ user: SlackIds.alice, text: 'done' });

    expect(fake.callsOf('auth.test').length).toBeGreaterThan(0);
    const post = fake.callsOf('chat.postMessage')[1]!;
    expect(post.tokenKind).toBe('bot');
    expect(post.contentType).toBe('application/x-www-form-urlencoded');
    expect(post.params.thread_ts).toBe(parent!.ts);
  });

  it('rejects a forged signature with 401 without running the handler', async () => {
    const before = handled.length;
    const forged = await sender.slashCommand({ command: '/ping', text: 'forged' }, { badSignature: true });
    expect(forged.status).toBe(401);
    const unsigned = await sender.slashCommand(
      { command: '/ping', text: 'unsigned' },
      { omitSignature: true },
    );
    expect(unsigned.status).toBe(401);
    expect(handled.length).toBe(before);
  });

  it('rejects a stale timestamp without running the handler', async () => {
    const before = handled.length;
    const stale = await sender.slashCommand(
      { command: '/ping', text: 'stale' },
      { timestamp: SlackSender.staleTimestamp() },
    );
    expect(stale.status).toBe(401);
    expect(handled.length).toBe(before);
    const fresh = await sender.slashCommand({ command: '/ping', text: 'fresh' });
    expect(fresh.status).toBe(200);
    expect(handled.at(-1)?.text).toBe('fresh');
  });

  it('delivers a block action; respond(replace_original) edits the message', async () => {
    const posted = await app.client.chat.postMessage({
      channel: SlackIds.ops,
      text: 'Restart blog?',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'Restart blog?' } },
        {
          type: 'actions',
          elements: [{ type: 'button', action_id: 'confirm', text: { type: 'plain_text', text: 'Yes' } }],
        },
      ],
    });
    const d = await sender.blockAction({
      actionId: 'confirm',
      value: 'blog',
      messageTs: posted.ts!,
      channelId: SlackIds.ops,
    });
    expect(d.status).toBe(200);
    await fake.waitFor(() => d.responseUrl!.posts.length > 0, 5000, 'respond');
    expect(fake.message(SlackIds.ops, posted.ts!)?.text).toBe('Confirmed');
  });

  it('answers 429 with retry-after; the web client waits and retries by itself', async () => {
    fake.inject429('chat.postMessage', 1, 1);
    const before = fake.callsOf('chat.postMessage').length;
    const res = await app.client.chat.postMessage({ channel: SlackIds.ops, text: 'after 429' });
    expect(res.ok).toBe(true);
    expect(
      fake
        .callsOf('chat.postMessage')
        .slice(before)
        .map((c) => c.status),
    ).toEqual([429, 200]);

    // A burst over the per-channel limit is throttled with 429s and still lands exactly once each.
    const start = fake.callsOf('chat.postMessage').length;
    await Promise.all(
      Array.from({ length: 5 }, (_, n) =>
        app.client.chat.postMessage({ channel: SlackIds.general, text: `burst ${n}` }),
      ),
    );
    const burst = fake.callsOf('chat.postMessage').slice(start);
    expect(burst.some((c) => c.status === 429 && c.retryAfter! >= 1)).toBe(true);
    expect(fake.messagesIn(SlackIds.general).filter((m) => m.text.startsWith('burst'))).toHaveLength(5);
  });

  it('rejects too long text (msg_too_long) and too long section text (invalid_blocks)', async () => {
    const long = await app.client.chat
      .postMessage({ channel: SlackIds.ops, text: 'x'.repeat(40_001) })
      .catch((e: unknown) => e as WebAPIPlatformError);
    expect((long as WebAPIPlatformError).code).toBe(ErrorCode.PlatformError);
    expect((long as WebAPIPlatformError).data.error).toBe('msg_too_long');
    const section = await app.client.chat
      .postMessage({
        channel: SlackIds.ops,
        text: 'fallback',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(3001) } }],
      })
      .catch((e: unknown) => e as WebAPIPlatformError);
    expect((section as WebAPIPlatformError).data.error).toBe('invalid_blocks');
  });

  it('accepts at most 5 posts to a response_url', async () => {
    const d = await sender.slashCommand({ command: '/ping', text: 'x' });
    const statuses: number[] = [];
    for (let n = 0; n < 6; n++) {
      const r = await fetch(d.responseUrl!.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ text: `r${n}` }),
      });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
  });

  it('rejects Web API calls with a wrong token', async () => {
    const res = await fetch(`${fake.apiUrl}auth.test`, {
      method: 'POST',
      headers: { Authorization: 'Bearer xoxb-wrong', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(await res.json()).toEqual({ ok: false, error: 'invalid_auth' });
  });
});

describe('FakeSlack + Bolt Socket Mode', () => {
  it('opens a connection with the app token, receives an envelope and acks it', async () => {
    const socketApp = new App({
      token: fake.botToken,
      appToken: fake.appToken,
      socketMode: true,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig },
      installerOptions: { clientOptions: { slackApiUrl: fake.apiUrl, retryConfig } },
      logLevel: LogLevel.ERROR,
    });
    const seen: string[] = [];
    socketApp.command('/status', async ({ ack, command }) => {
      seen.push(command.text);
      await ack({ response_type: 'ephemeral', text: `status of ${command.text}: up` });
    });
    await socketApp.start();
    try {
      await fake.waitFor(() => fake.socketConnected, 5000, 'socket connection');
      expect(fake.callsOf('apps.connections.open').at(-1)?.tokenKind).toBe('app');
      const env = fake.socketSlashCommand({ command: '/status', text: 'blog', userId: SlackIds.bob });
      const ack = await fake.waitFor(() => env.ack, 5000, 'ack');
      expect(seen).toEqual(['blog']);
      expect(ack.payload).toEqual({ response_type: 'ephemeral', text: 'status of blog: up' });
      expect(fake.ephemerals.at(-1)).toMatchObject({
        user: SlackIds.bob,
        text: 'status of blog: up',
        via: 'ack',
      });
      await fake.waitFor(() => fake.socketStats.pongs > 0, 5000, 'pong to a server ping');
    } finally {
      await socketApp.stop();
      await fake.waitFor(() => !fake.socketConnected, 5000, 'socket closed');
    }
  });
});
