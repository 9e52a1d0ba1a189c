import { describe, expect, it } from 'vitest';
import { defineCommand, type Invocation, opt, reply } from '../../../src/core/command.js';
import { CommandRegistry, Dispatcher } from '../../../src/core/dispatch.js';
import { PermissionPolicy } from '../../../src/core/permissions.js';
import type { Logger } from '../../../src/core/ports.js';
import { MemoryAuditStore } from '../fakes/memory-audit-store.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function setup() {
  const calls: unknown[] = [];
  const restart = defineCommand({
    name: 'restart',
    description: 'Restart a site',
    level: 'operator',
    mutates: true,
    options: {
      site: opt.site({ description: 'site', required: true }),
      service: opt.service({ description: 's' }),
    },
    run: (_ctx, args) => {
      calls.push(args);
      return reply.text('restarted', args.site.name);
    },
  });
  const boom = defineCommand({
    name: 'boom',
    description: 'Always throws',
    level: 'viewer',
    options: {},
    run: () => {
      throw new Error('kaput\nsecond line');
    },
  });
  const audit = new MemoryAuditStore();
  let now = 1_000;
  const d = new Dispatcher({
    registry: new CommandRegistry([restart, boom]),
    policy: new PermissionPolicy({ admins: ['console:*'], operators: ['discord:role:42', 'slack:user:U1'] }),
    audit,
    clock: { now: () => now++ },
    logger: silent,
    services: {},
  });
  const inv = (over: Partial<Invocation>): Invocation => ({
    platform: 'discord',
    user: { id: 'u1', name: 'Ann', roles: [] },
    channelId: 'c1',
    command: 'restart',
    args: { site: 'blog' },
    receivedAt: 0,
    ...over,
  });
  return { d, audit, calls, inv };
}

describe('dispatcher', () => {
  it('runs an allowed command and audits it with the actor', async () => {
    const { d, audit, calls, inv } = setup();
    const r = await d.dispatch(
      inv({ user: { id: 'u1', name: 'Ann', roles: ['42'] }, args: { site: 'blog' } }),
    );
    expect(r.status).toBe('ok');
    expect(calls).toEqual([{ site: { host: null, name: 'blog' } }]);
    expect(audit.entries).toMatchObject([
      {
        action: 'restart',
        site: 'blog',
        outcome: 'ok',
        actor: { platform: 'discord', id: 'u1', name: 'Ann' },
      },
    ]);
  });

  it('denies a viewer, says how to get more, runs nothing and audits the denial', async () => {
    const { d, audit, calls, inv } = setup();
    const r = await d.dispatch(inv({}));
    expect(r.status).toBe('denied');
    expect(r.ephemeral).toBe(true);
    // Names the level and the exact principal an admin must add.
    expect(JSON.stringify(r.blocks)).toMatch(/needs the operator level; you have viewer/);
    expect(JSON.stringify(r.blocks)).toMatch(/adds \w+:user:[\w-]+ .*to OPERATORS/);
    expect(calls).toEqual([]);
    expect(audit.entries).toMatchObject([{ action: 'restart', outcome: 'denied', site: 'blog' }]);
  });

  it('prepare writes nothing before the acknowledgement: a denial, an unknown command and bad input are audited when run', async () => {
    const { d, audit, inv } = setup();
    const prepared = [
      d.prepare(inv({})),
      d.prepare(inv({ command: 'nope' })),
      d.prepare(inv({ user: { id: 'u1', name: 'Ann', roles: ['42'] }, args: { site: 'Bad Site!' } })),
    ];
    expect(prepared.map((p) => p.privately)).toEqual([true, true, true]);
    expect(audit.entries).toEqual([]);
    for (const p of prepared) await p.run();
    expect(audit.entries.map((e) => [e.action, e.outcome])).toEqual([
      ['restart', 'denied'],
      ['nope', 'rejected'],
      ['restart', 'rejected'],
    ]);
  });

  it('maps Slack user ids and Discord roles through the policy', () => {
    const { d } = setup();
    expect(d.levelOf({ platform: 'slack', user: { id: 'U1', name: 'x', roles: [] } })).toBe('operator');
    expect(d.levelOf({ platform: 'slack', user: { id: 'U2', name: 'x', roles: ['42'] } })).toBe('viewer');
    expect(d.levelOf({ platform: 'console', user: { id: 'me', name: 'me', roles: [] } })).toBe('admin');
  });

  it.each([
    ['a path', { site: '../x' }],
    ['upper case', { site: 'Blog' }],
    ['a 10,000-character argument', { site: 'a'.repeat(10_000) }],
    ['a missing site', {}],
    ['an unknown option', { site: 'blog', colour: 'red' }],
    ['a bad service', { site: 'blog', service: 'web;rm -rf /' }],
  ])('rejects %s with a clear error, runs nothing, audits it as rejected', async (_name, args) => {
    const { d, audit, calls, inv } = setup();
    const r = await d.dispatch(inv({ platform: 'console', args }));
    expect(r.status).toBe('invalid');
    expect(r.blocks.length).toBeGreaterThan(0);
    expect(calls).toEqual([]);
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]!.outcome).toBe('rejected');
    expect(JSON.stringify(audit.entries[0]!.details).length).toBeLessThan(2000);
  });

  it('answers an unknown command with the commands the user may run', async () => {
    const { d, inv } = setup();
    const r = await d.dispatch(inv({ command: 'rm' }));
    expect(r.status).toBe('invalid');
    expect(JSON.stringify(r.blocks)).toContain('boom');
    expect(JSON.stringify(r.blocks)).not.toContain('restart');
  });

  it('turns a thrown error into a one-line error reply and audits the failure', async () => {
    const { d, audit, inv } = setup();
    const r = await d.dispatch(inv({ command: 'boom', args: {} }));
    expect(r.status).toBe('error');
    expect(JSON.stringify(r)).not.toContain('second line');
    expect(audit.entries[0]!.outcome).toBe('failed');
  });

  it('checks permission before reporting unreadable input, and audits both', async () => {
    const { d, audit, calls, inv } = setup();
    const viewer = await d.dispatch(inv({ args: {} }), { problems: ['unexpected argument "x"'] });
    expect(viewer.status).toBe('denied');
    const op = await d.dispatch(inv({ user: { id: 'u2', name: 'Bo', roles: ['42'] }, args: {} }), {
      problems: ['unexpected argument "x"'],
    });
    expect(op.status).toBe('invalid');
    expect(JSON.stringify(op.blocks)).toContain('unexpected argument');
    const garbled = await d.dispatch(inv({ command: '', args: {} }), { problems: ['unclosed quote'] });
    expect(garbled.status).toBe('invalid');
    expect(calls).toEqual([]);
    expect(audit.entries.map((e) => [e.action, e.outcome])).toEqual([
      ['restart', 'denied'],
      ['restart', 'rejected'],
      ['(unreadable)', 'rejected'],
    ]);
  });

  it('refuses new commands once shutting down', async () => {
    const { d, calls, inv } = setup();
    d.stopAccepting();
    const r = await d.dispatch(inv({ platform: 'console' }));
    expect(r.title).toMatch(/shutting down/);
    expect(calls).toEqual([]);
  });
});

describe('command levels from configuration', () => {
  it('/logs is operator-level as declared; LOGS_LEVEL overrides it for every caller (typed or alert button)', async () => {
    const { commands } = await import('../../../commands/index.js');
    const { loadConfig } = await import('../../../src/config.js');
    expect(loadConfig({}, { envFile: null }).LOGS_LEVEL).toBe('operator');
    expect(new CommandRegistry(commands).get('logs')?.level).toBe('operator');
    const open = new CommandRegistry(commands, { logs: 'viewer' });
    expect(open.get('logs')?.level).toBe('viewer');
    expect(open.allowed('viewer').map((c) => c.name)).toContain('logs');
    expect(
      new CommandRegistry(commands, { logs: 'admin' }).allowed('operator').map((c) => c.name),
    ).not.toContain('logs');
  });

  it('refuse(): denied, names nothing, audited with the reason', () => {
    const { d, audit, inv } = setup();
    const r = d.refuse(inv({ command: 'restart', args: { site: 'blog' } }), 'guild', { guild: '123' });
    expect(r).toMatchObject({ status: 'denied', ephemeral: true, title: 'SiteFlow does not answer here.' });
    expect(JSON.stringify(r)).not.toMatch(/blog|Ann/);
    expect(audit.entries).toMatchObject([
      { action: 'restart', outcome: 'denied', site: null, details: { reason: 'guild', guild: '123' } },
    ]);
  });
});
