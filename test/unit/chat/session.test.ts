/**
 * The chat session over an in-memory adapter that records what it was asked to show: the flows
 * themselves (parse once, private answers, confirmations, buttons, the run message) and the
 * fallbacks when an optional capability is missing. The real platforms are driven through the
 * same session in test/e2e/chat-session.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type ChatAdapter, ChatSession, type Posted, type SessionDeps } from '../../../src/chat/session.js';
import type { MessageSink } from '../../../src/chat/stream/thread-streamer.js';
import type { Invocation, Reply } from '../../../src/core/command.js';
import { defineCommand, opt, reply } from '../../../src/core/command.js';
import { CommandRegistry, Dispatcher } from '../../../src/core/dispatch.js';
import { PermissionPolicy } from '../../../src/core/permissions.js';
import type { Logger } from '../../../src/core/ports.js';
import type { RunEvent } from '../../../src/core/run-events.js';
import type { Services } from '../../../src/services.js';
import { MemoryAuditStore } from '../fakes/memory-audit-store.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

interface Ctx {
  user: string;
}
type Shown = { op: string; title: string; note?: string; actions?: string[] };

/** An adapter that records every call; `optional` picks the optional capabilities it has. */
function recordingAdapter(optional: { ephemeral?: boolean; closePrompt?: boolean } = {}) {
  const log: Shown[] = [];
  const thread: string[] = [];
  const show = (op: string, r: Reply, note?: string) =>
    log.push({
      op,
      title: r.title,
      ...(note ? { note } : {}),
      ...(r.actions ? { actions: r.actions.map((a) => a.label) } : {}),
    });
  const sink: MessageSink = {
    post: async (text) => {
      thread.push(text);
      return String(thread.length);
    },
    edit: async (_id, text) => {
      thread.push(text);
    },
  };
  const adapter: ChatAdapter<Ctx, string> = {
    platform: 'discord',
    stream: { maxChars: 2000, minIntervalMs: 0, maxMessages: 5, wrap: (b) => b },
    invocation: async (ctx, command, args): Promise<Invocation> => ({
      platform: 'discord',
      user: { id: ctx.user, name: ctx.user, roles: [] },
      channelId: 'c1',
      command,
      args,
      receivedAt: 0,
    }),
    ack: async (_ctx, how) => {
      log.push({ op: 'ack', title: how });
    },
    reply: async (_ctx, r, note) => {
      show('reply', r, note);
    },
    post: async (_ctx, r, note): Promise<Posted<string>> => {
      show('post', r, note);
      return { handle: 'm1', channelId: 'c1', messageId: 'm1' };
    },
    postIn: async (channelId, r): Promise<Posted<string>> => {
      show(`postIn ${channelId}`, r);
      return { handle: 'm2', channelId, messageId: 'm2' };
    },
    edit: async (_m, r, note) => {
      show('edit', r, note);
    },
    thread: async () => ({ sink, threadId: 't1' }),
    ...(optional.ephemeral
      ? {
          ephemeral: async (_ctx: Ctx, r: Reply) => {
            show('ephemeral', r);
          },
        }
      : {}),
    ...(optional.closePrompt
      ? {
          closePrompt: async (_ctx: Ctx, note: string) => {
            log.push({ op: 'closePrompt', title: note });
          },
        }
      : {}),
  };
  return { adapter, log, thread };
}

function setup(optional: Parameters<typeof recordingAdapter>[0] = {}) {
  let parses = 0;
  let runs = 0;
  const name = opt.string({ description: 'a name', required: true });
  const parse = name.parse;
  name.parse = (raw: string) => {
    parses++;
    return parse(raw);
  };
  const end: RunEvent = { type: 'end', status: 'succeeded', exitCode: 0, error: null, durationMs: 5, at: 0 };
  const commands = [
    defineCommand({
      name: 'hello',
      description: 'says hello',
      level: 'viewer',
      options: { name, site: opt.site({ description: 'a site' }) },
      run: (_ctx, a) => {
        runs++;
        return reply.text(`hello ${a.name}`, '');
      },
    }),
    defineCommand({
      name: 'wipe',
      description: 'admin only',
      level: 'admin',
      options: {},
      run: () => reply.text('wiped', ''),
    }),
    defineCommand({
      name: 'go',
      description: 'starts a run',
      level: 'viewer',
      options: {},
      run: () => ({
        status: 'ok',
        title: 'Going (op_1)',
        blocks: [],
        operationId: 'op_1',
        actions: [{ label: 'Cancel', command: 'cancel', args: { operation: 'op_1' }, danger: true }],
      }),
    }),
    defineCommand({
      name: 'confirm',
      description: 'answers a prompt',
      level: 'viewer',
      options: {
        id: opt.string({ description: 'id', required: true }),
        answer: opt.string({ description: 'a' }),
      },
      run: (_ctx, a) => (a.id === 'cf_gone' ? reply.invalid('no longer open', []) : reply.text('Done', '')),
    }),
  ];
  const registry = new CommandRegistry<Services>(commands as never);
  const dispatcher = new Dispatcher<Services>({
    registry,
    policy: new PermissionPolicy({ admins: [], operators: [] }),
    audit: new MemoryAuditStore(),
    clock: { now: () => 0 },
    logger: silent,
    services: {} as Services,
  });
  const outputs: unknown[] = [];
  const services = {
    runner: {
      events: async function* () {
        yield { type: 'line', stream: 'stdout', text: 'working', at: 0 } as RunEvent;
        yield end;
      },
    },
    operations: {
      get: () => ({ requestedBy: { name: 'ann' }, logPath: null }),
      update: (_id: string, patch: unknown) => outputs.push(patch),
    },
    monitor: { actionFor: () => null },
  } as unknown as SessionDeps['services'];
  const rec = recordingAdapter(optional);
  const session = new ChatSession(
    {
      dispatcher,
      registry,
      services,
      runLog: { read: async () => '' } as unknown as SessionDeps['runLog'],
      logger: silent,
      completions: async (_kind, typed) => (typed === 'slow' ? new Promise(() => {}) : ['blog', 'shop']),
      completionTimeoutMs: 50,
    },
    rec.adapter,
  );
  return { session, ...rec, outputs, counts: () => ({ parses, runs }) };
}

const ann = { user: 'ann' };
const inv = (command: string, args: Record<string, string> = {}): Invocation => ({
  platform: 'discord',
  user: { id: 'ann', name: 'ann', roles: [] },
  channelId: 'c1',
  command,
  args,
  receivedAt: 0,
});

describe('chat session', () => {
  it('parses and authorises a command once, acknowledges publicly, then answers in the channel', async () => {
    const s = setup({ ephemeral: true });
    await s.session.command(ann, inv('hello', { name: 'world' }));
    expect(s.counts()).toEqual({ parses: 1, runs: 1 });
    expect(s.log).toEqual([
      { op: 'ack', title: 'public' },
      { op: 'reply', title: 'hello world' },
    ]);
  });

  it('a denial or invalid input is acknowledged privately and answered privately, never run', async () => {
    const s = setup({ ephemeral: true });
    await s.session.command(ann, inv('wipe'));
    await s.session.command(ann, inv('hello', {}));
    expect(s.counts().runs).toBe(0);
    expect(s.log.map((l) => l.op)).toEqual(['ack', 'ephemeral', 'ack', 'ephemeral']);
    expect(s.log[0]!.title).toBe('private');
    expect(s.log[1]!.title).toMatch(/not allowed to run \/wipe/);
    expect(s.log[3]!.title).toMatch(/Invalid input for \/hello/);
  });

  it('without the ephemeral capability a private answer falls back to the channel reply', async () => {
    const s = setup();
    await s.session.command(ann, inv('wipe'));
    expect(s.log.map((l) => l.op)).toEqual(['ack', 'reply']);
  });

  it('a run: posted with Cancel, streamed into its thread, output recorded, edited with the outcome', async () => {
    const s = setup();
    await s.session.command(ann, inv('go'));
    await s.session.idle();
    expect(s.log).toEqual([
      { op: 'ack', title: 'public' },
      { op: 'post', title: 'Going (op_1)', actions: ['Cancel'] },
      { op: 'edit', title: 'Going (op_1): succeeded', actions: [] },
    ]);
    expect(s.thread.join('\n')).toContain('working');
    expect(s.thread.at(-1)).toMatch(/op_1 succeeded.*started by ann/);
    expect(s.outputs).toEqual([
      { output: { platform: 'discord', channelId: 'c1', threadId: 't1', messageId: 'm1' } },
    ]);
  });

  it('a scheduled run announced in a channel is followed like a typed one', async () => {
    const s = setup();
    await s.session.announce('alerts', {
      status: 'ok',
      title: 'schedule #1: /go',
      blocks: [],
      operationId: 'op_1',
    });
    await s.session.idle();
    expect(s.log).toEqual([
      { op: 'postIn alerts', title: 'schedule #1: /go' },
      { op: 'edit', title: 'schedule #1: /go: succeeded', actions: [] },
    ]);
    expect(s.thread.at(-1)).toMatch(/op_1 succeeded/);
    expect(s.outputs).toEqual([
      { output: { platform: 'discord', channelId: 'alerts', threadId: 't1', messageId: 'm2' } },
    ]);
  });

  it('a confirmation click: without closePrompt the outcome replaces the prompt with a note', async () => {
    const s = setup({ ephemeral: true });
    await s.session.click(ann, { kind: 'confirm', id: 'cf_1', answer: 'yes' });
    expect(s.log).toEqual([
      { op: 'ack', title: 'update' },
      { op: 'reply', title: 'Done', note: 'Confirmed by ann' },
    ]);
  });

  it('a confirmation click: with closePrompt the prompt is closed in place, then the outcome follows', async () => {
    const s = setup({ ephemeral: true, closePrompt: true });
    await s.session.click(ann, { kind: 'confirm', id: 'cf_1', answer: 'yes' });
    await s.session.click(ann, { kind: 'confirm', id: 'cf_2', answer: 'no' });
    expect(s.log).toEqual([
      { op: 'ack', title: 'update' },
      { op: 'closePrompt', title: 'Confirmed by ann' },
      { op: 'reply', title: 'Done' },
      { op: 'ack', title: 'update' },
      { op: 'closePrompt', title: 'Called off by ann' },
    ]);
  });

  it('a stale confirmation, an unknown alert and a foreign button are answered privately', async () => {
    const s = setup({ ephemeral: true });
    await s.session.click(ann, { kind: 'confirm', id: 'cf_gone', answer: 'yes' });
    await s.session.click(ann, { kind: 'alert', alertId: 'al_1', action: 'restart' });
    await s.session.click(ann, { kind: 'foreign' });
    await s.session.click(ann, { kind: 'command', id: 'not-ours' });
    expect(s.log.filter((l) => l.op !== 'ack')).toEqual([
      { op: 'ephemeral', title: 'no longer open' },
      { op: 'ephemeral', title: 'This alert is no longer known to SiteFlow.' },
      { op: 'ephemeral', title: 'This button is not one of SiteFlow’s.' },
      { op: 'ephemeral', title: 'This button is not one of SiteFlow’s.' },
    ]);
  });

  it('a command button runs its command as the clicker, through the same parse-once path', async () => {
    const s = setup({ ephemeral: true });
    await s.session.click({ user: 'bob' }, { kind: 'command', id: 'sf:do:hello?name=bob' });
    expect(s.counts()).toEqual({ parses: 1, runs: 1 });
    expect(s.log.at(-1)).toEqual({ op: 'reply', title: 'hello bob' });
  });

  it('completes from choices or the in-memory source, and answers empty when the source is too slow', async () => {
    const s = setup();
    expect(await s.session.complete('hello', 'site', 'sh', {})).toEqual(['blog', 'shop']);
    expect(await s.session.complete('hello', 'site', 'slow', {})).toEqual([]);
    expect(await s.session.complete('hello', 'name', 'sh', {})).toEqual([]);
    expect(await s.session.complete('nope', 'name', '', {})).toEqual([]);
  });
});
