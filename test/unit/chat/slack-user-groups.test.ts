/** SlackUserGroups with the real @slack/web-api client against a small loopback usergroups.list. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webApi } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackUserGroups } from '../../../src/chat/slack/user-groups.js';
import { testLogger } from '../../support/siteflow.js';

let server: Server;
let url: string;
let calls: URLSearchParams[] = [];
let answer: () => Record<string, unknown> = () => ({ ok: true, usergroups: [] });

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/api/usergroups.list') calls.push(new URLSearchParams(body));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify(
          req.url === '/api/usergroups.list' ? answer() : { ok: false, error: 'unknown_method' },
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const client = () => new webApi.WebClient('xoxb-test', { slackApiUrl: url, retryConfig: { retries: 0 } });

describe('SlackUserGroups', () => {
  it('maps users to their groups with one cached call shared by concurrent lookups', async () => {
    calls = [];
    answer = () => ({
      ok: true,
      usergroups: [
        { id: 'S0OPS', users: ['U1', 'U2'] },
        { id: 'S0ADMINS', users: ['U1'] },
        { id: 'S0GONE', users: ['U2'], date_delete: 1700000000 },
      ],
    });
    let now = 1_000_000;
    const g = new SlackUserGroups(client(), { now: () => now }, testLogger());
    const [a, b, c] = await Promise.all([g.groupsOf('U1'), g.groupsOf('U2'), g.groupsOf('U3')]);
    expect(a).toEqual(['S0OPS', 'S0ADMINS']);
    expect(b).toEqual(['S0OPS']);
    expect(c).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.get('include_users')).toBe('true');
    now += 59_000;
    await g.groupsOf('U1');
    expect(calls).toHaveLength(1);
    answer = () => ({ ok: true, usergroups: [{ id: 'S0NEW', users: ['U1'] }] });
    now += 2_000;
    expect(await g.groupsOf('U1')).toEqual(['S0NEW']);
    expect(calls).toHaveLength(2);
  });

  it('a failing call (missing scope) means no groups, logged once, retried after the TTL', async () => {
    calls = [];
    answer = () => ({ ok: false, error: 'missing_scope', needed: 'usergroups:read' });
    const lines: string[] = [];
    let now = 0;
    const g = new SlackUserGroups(client(), { now: () => now }, testLogger(lines));
    expect(await g.groupsOf('U1')).toEqual([]);
    now += 61_000;
    expect(await g.groupsOf('U1')).toEqual([]);
    expect(calls).toHaveLength(2);
    expect(lines.filter((l) => l.includes('usergroups:read scope')).length).toBe(1);
  });
});
