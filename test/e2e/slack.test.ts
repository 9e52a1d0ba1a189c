/**
 * SiteFlow on Slack (HTTP mode), what only Slack does: real SiteFlow (SLACK_PORT=0) with the
 * real @slack/bolt inside, talking to FakeSlack over loopback, against the real Docker engine
 * with a labelled compose site. Individual commands (SLACK_COMMANDS=both), Block Kit sections and
 * Slack dates, the section limit and uploads, 429s, the 3 s acknowledgement under a burst,
 * request signatures and the workspace gate. The flows every platform shares (run message,
 * denial, confirmation, alert buttons, Cancel) are driven on both platforms in
 * chat-session.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, testDocker } from '../env/harness.js';
import { FakeSlack, SlackIds, SlackSender } from '../fakes/slack-server.js';
import {
  SIGNING_SECRET,
  type SlackSiteFlow,
  sectionTexts,
  shownLines,
  startSlackSiteFlow,
  unescapeSlack,
} from './slack-support.js';

const env = inject('siteflowTestEnv');
const LINES = 3000;

let docker: Docker;
let fake: FakeSlack;
let sf: SlackSiteFlow;
let sender: SlackSender;
let site: ComposeProject;

async function startedAt(service: string): Promise<string> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${site.name}`, `com.docker.compose.service=${service}`] },
  });
  return (await docker.getContainer(list[0]!.Id).inspect()).State.StartedAt;
}

const opIdOf = (text: string) => /\((op_[0-9a-z]{26})\)/.exec(unescapeSlack(text))?.[1] ?? '';

/** The run message whose title matches, once its thread has the summary (✓/✗ op ... in ...). */
async function finishedRun(match: RegExp, channel: string = SlackIds.general, timeoutMs = 60_000) {
  return fake.waitFor(
    () => {
      const parent = fake.messagesIn(channel).find((m) => match.test(unescapeSlack(m.versions[0]!.text)));
      if (!parent) return null;
      const replies = fake.repliesOf(channel, parent.ts);
      const summary = replies.find((m) => / (succeeded|failed|cancelled|timed out|interrupted)/.test(m.text));
      return summary ? { parent, replies, summary, opId: opIdOf(parent.versions[0]!.text) } : null;
    },
    timeoutMs,
    `run ${match}`,
  );
}

function auditRows(action?: string) {
  return sf.app.services.audit.query({ ...(action ? { action } : {}), limit: 500 }).entries;
}

beforeAll(async () => {
  docker = testDocker(env);
  site = createComposeProject(
    {
      name: 'slack',
      services: {
        web: { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'] },
        // Many lines with the characters Slack escapes, then quiet.
        chatty: {
          command: [
            'sh',
            '-c',
            `i=0; while [ $$i -lt ${LINES} ]; do echo "line $$i <b>fox</b> & friends > all"; i=$$((i+1)); done; exec sleep 100000`,
          ],
        },
      },
    },
    env,
  );
  await site.up();
  fake = await new FakeSlack().start();
  sf = await startSlackSiteFlow(fake, {
    DOCKER_HOSTS: env.dockerHost,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_PORT: '0',
    SLACK_COMMANDS: 'both',
    ADMINS: `slack:user:${SlackIds.alice}`,
    OPERATORS: `slack:user:${SlackIds.bob}`,
    HEALTH_TIMEOUT_SECONDS: '30',
    SLACK_ALLOWED_TEAMS: 'T0FRIEND',
  });
  expect(sf.slack.mode).toBe('http');
  expect(sf.slack.port).toBeGreaterThan(0);
  sender = new SlackSender({
    url: `http://127.0.0.1:${sf.slack.port}/slack/events`,
    signingSecret: SIGNING_SECRET,
    fake,
  });
}, 180_000);

afterAll(async () => {
  await sf?.stop();
  await fake?.stop();
  await site?.down();
}, 120_000);

describe('Slack surface (HTTP mode)', () => {
  it('an individual /restart (SLACK_COMMANDS=both) restarts one service', async () => {
    const before = await startedAt('web');
    const d = await sender.slashCommand({
      command: '/restart',
      text: `${site.name} web`,
      userId: SlackIds.alice,
      channelId: SlackIds.ops,
    });
    expect(d.status).toBe(200);
    const run = await finishedRun(new RegExp(`Restarting web of ${site.name}`), SlackIds.ops);
    expect(run.summary.text).toMatch(/succeeded.*started by alice/);
    expect(await startedAt('web')).not.toBe(before);
    expect(
      auditRows('restart').some((r) => r.actor.id === SlackIds.alice && r.operationId === run.opId),
    ).toBe(true);
  }, 90_000);

  it('/siteflow status: a section with fields per site, its last operation as a Slack date', async () => {
    const d = await sender.slashCommand({ command: '/siteflow', text: 'status', userId: SlackIds.alice });
    expect(d.status).toBe(200);
    await fake.waitFor(() => d.responseUrl!.posts.length > 0, 10_000, 'status answer');
    const body = d.responseUrl!.posts[0]!.body as {
      response_type: string;
      text: string;
      blocks: { type: string; text?: { text: string }; fields?: { text: string }[] }[];
    };
    expect(body.response_type).toBe('in_channel');
    const card = body.blocks.find((b) => b.type === 'section' && b.text?.text === `*${site.name}*`)!;
    expect(card.fields!.map((f) => f.text.split('\n')[0])).toEqual(['*state*', '*up*', '*last operation*']);
    // The individual /restart above is its last operation, dated in Slack's own format with a local-time fallback.
    expect(card.fields![2]!.text).toMatch(
      /^\*last operation\*\nrestart succeeded <!date\^\d{10}\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [^>]+>$/,
    );
    expect(body.text).not.toContain('⟦');
  });

  it('a long /logs: no line lost (upload = run log), no message over the limit, throttled edits, run not slowed', async () => {
    const d = await sender.slashCommand({
      command: '/siteflow',
      text: `logs ${site.name} chatty lines=2000`,
      userId: SlackIds.alice,
    });
    expect(d.status).toBe(200);
    const run = await finishedRun(new RegExp(`Logs of chatty of ${site.name}`), SlackIds.general, 120_000);
    const op = sf.app.services.operations.get(run.opId)!;
    expect(op.status).toBe('succeeded');
    const log = await readFile(join(sf.app.config.DATA_DIR, 'logs', op.logPath!), 'utf8');
    expect(log.split('\n').filter((l) => l.includes('<b>fox</b>')).length).toBe(2000);
    // The full log is attached, byte for byte.
    const file = run.summary.files[0]!;
    expect(file.filename).toBe(`${run.opId}.log`);
    expect(Buffer.compare(file.bytes!, Buffer.from(log, 'utf8'))).toBe(0);
    // Every section Slack received fits its limit, and nothing was rejected.
    const writes = fake.calls.filter(
      (c) => (c.method === 'chat.postMessage' || c.method === 'chat.update') && c.status === 200,
    );
    expect(writes.filter((c) => c.response.ok === false)).toEqual([]);
    for (const c of writes) {
      const blocks = typeof c.params.blocks === 'string' ? JSON.parse(c.params.blocks) : [];
      for (const t of sectionTexts(blocks)) expect(t.length).toBeLessThanOrEqual(3000);
    }
    // chat.update of this thread's messages is paced (the final re-render after the end excepted).
    const threadTs = new Set(run.replies.map((m) => m.ts));
    const updates = fake.calls
      .filter((c) => c.method === 'chat.update' && threadTs.has(String(c.params.ts)))
      .map((c) => c.at);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    const gaps = updates.slice(1, -1).map((t, i) => t - updates[i]!);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(1100);
    // Every write into the thread (posts and edits) together stays within the pace too.
    const parentTs = run.parent.ts;
    const threadWrites = fake.calls
      .filter(
        (c) =>
          c.status === 200 &&
          ((c.method === 'chat.postMessage' && c.params.thread_ts === parentTs) ||
            (c.method === 'chat.update' && threadTs.has(String(c.params.ts)))),
      )
      .map((c) => c.at);
    const span = threadWrites.at(-1)! - threadWrites[0]!;
    expect(threadWrites.length).toBeLessThanOrEqual(Math.floor(span / 1200) + 1 + 8);
    // The action ended long before the chat finished showing it.
    expect(op.finishedAt!).toBeLessThan(run.summary.versions[0]!.at);
    expect(op.finishedAt! - op.startedAt!).toBeLessThan(run.summary.versions[0]!.at - op.startedAt!);
  }, 150_000);

  it('injected 429s (retry-after) are waited out and nothing is lost', async () => {
    fake.inject429('chat.update', 2, 1);
    fake.inject429('chat.postMessage', 2, 1);
    const before = fake.calls.length;
    const d = await sender.slashCommand({
      command: '/siteflow',
      text: `logs ${site.name} chatty lines=150`,
      userId: SlackIds.bob,
    });
    expect(d.status).toBe(200);
    const run = await finishedRun(
      new RegExp(`Logs of chatty of ${site.name}.*started by bob`),
      SlackIds.general,
      90_000,
    );
    const limited = fake.calls.slice(before).filter((c) => c.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(limited.every((c) => c.retryAfter === 1)).toBe(true);
    const shown = run.replies.filter((m) => m !== run.summary).flatMap((m) => shownLines(m.blocks));
    const op = sf.app.services.operations.get(run.opId)!;
    const log = await readFile(join(sf.app.config.DATA_DIR, 'logs', op.logPath!), 'utf8');
    const logLines = log.split('\n').filter((l) => l.includes('<b>fox</b>'));
    expect(logLines).toHaveLength(150);
    for (const l of logLines) expect(shown.some((s) => s.endsWith(l))).toBe(true);
  }, 120_000);

  it('50 slash commands arriving together are all acked within 3 s', async () => {
    const users = [SlackIds.alice, SlackIds.bob, SlackIds.carol];
    const ds = await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        sender.slashCommand({
          command: '/siteflow',
          text: 'help',
          userId: users[n % 3]!,
          channelId: SlackIds.ops,
        }),
      ),
    );
    expect(ds.map((d) => d.status)).toEqual(Array(50).fill(200));
    for (const d of ds) expect(d.elapsedMs).toBeLessThan(3000);
    // And each got its answer through its response_url.
    await fake.waitFor(() => ds.every((d) => d.responseUrl!.posts.length === 1), 20_000, 'all 50 answers');
  }, 60_000);

  it('forged or stale signatures are rejected (401) and nothing runs', async () => {
    const t0 = Date.now();
    const ops = sf.app.services.operations.list({ limit: 500 }).length;
    const text = `restart ${site.name}`;
    const forged = await sender.slashCommand(
      { command: '/siteflow', text, userId: SlackIds.bob },
      { badSignature: true },
    );
    const unsigned = await sender.slashCommand(
      { command: '/siteflow', text, userId: SlackIds.bob },
      { omitSignature: true },
    );
    const stale = await sender.slashCommand(
      { command: '/siteflow', text, userId: SlackIds.bob },
      { timestamp: SlackSender.staleTimestamp() },
    );
    // A timestamp more than 5 minutes ahead is refused like a stale one (Bolt alone lets it in).
    const future = await sender.slashCommand(
      { command: '/siteflow', text, userId: SlackIds.bob },
      { timestamp: Math.floor(Date.now() / 1000) + 6 * 60 },
    );
    expect([forged.status, unsigned.status, stale.status, future.status]).toEqual([401, 401, 401, 401]);
    // The body limit applies while reading, before the signature is looked at: 413, not 401.
    const huge = await sender
      .slashCommand(
        {
          command: '/siteflow',
          text: `restart ${site.name} ${'x'.repeat(1100 * 1024)}`,
          userId: SlackIds.bob,
        },
        { badSignature: true },
      )
      .then((d) => d.status)
      .catch(() => 'connection closed');
    expect([413, 'connection closed']).toContain(huge);
    // A fence: a valid command sent after them is answered, so anything they had set off would
    // have run by now. Nothing about them reached the dispatcher (earlier tests' rows may still land).
    const fence = await sender.slashCommand({ command: '/siteflow', text: 'help', userId: SlackIds.bob });
    expect(fence.status).toBe(200);
    await fake.waitFor(() => fence.responseUrl!.posts.length > 0, 10_000, 'the fence answered');
    expect(sf.app.services.audit.query({ action: 'restart', since: t0, limit: 50 }).entries).toEqual([]);
    expect(sf.app.services.operations.list({ limit: 500 }).length).toBe(ops);
    for (const d of [forged, unsigned, stale, future]) expect(d.responseUrl!.posts).toEqual([]);
  });

  it('a command or button from another workspace is refused (ephemeral, names nothing, audited); SLACK_ALLOWED_TEAMS widens', async () => {
    const ops = sf.app.services.operations.list({ limit: 500 }).length;
    const before = await startedAt('web');
    const d = await sender.slashCommand({
      command: '/siteflow',
      text: `restart ${site.name}`,
      userId: SlackIds.alice,
      teamId: 'T0STRANGER',
    });
    expect(d.status).toBe(200);
    expect(d.elapsedMs).toBeLessThan(3000);
    await fake.waitFor(() => d.responseUrl!.posts.length > 0, 10_000, 'refusal');
    const body = d.responseUrl!.posts[0]!.body as { response_type: string };
    expect(body).toMatchObject({ response_type: 'ephemeral' });
    expect(JSON.stringify(body)).toContain('SiteFlow does not answer here.');
    expect(JSON.stringify(body)).not.toContain(site.name);
    const click = await sender.blockAction({
      actionId: 'sf_alert_restart',
      value: 'al_nothing',
      messageTs: '1.000001',
      userId: SlackIds.alice,
      teamId: 'T0STRANGER',
    });
    expect(click.status).toBe(200);
    await fake.waitFor(() => click.responseUrl!.posts.length > 0, 10_000, 'button refusal');
    expect(JSON.stringify(click.responseUrl!.posts[0]!.body)).toContain('SiteFlow does not answer here.');
    const rows = auditRows().filter((r) => r.details.reason === 'team');
    expect(rows.map((r) => [r.action, r.outcome, r.details.team])).toEqual(
      expect.arrayContaining([
        ['siteflow', 'denied', 'T0STRANGER'],
        ['action', 'denied', 'T0STRANGER'],
      ]),
    );
    expect(sf.app.services.operations.list({ limit: 500 }).length).toBe(ops);
    expect(await startedAt('web')).toBe(before);
    // A workspace listed in SLACK_ALLOWED_TEAMS is served.
    const friend = await sender.slashCommand({
      command: '/siteflow',
      text: `status ${site.name}`,
      userId: SlackIds.alice,
      teamId: 'T0FRIEND',
    });
    await fake.waitFor(() => friend.responseUrl!.posts.length > 0, 10_000, 'friend reply');
    expect(JSON.stringify(friend.responseUrl!.posts[0]!.body)).toContain(site.name);
  });
});
