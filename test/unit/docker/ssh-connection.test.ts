import { createServer, type Server } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteFlowError } from '../../../src/core/errors.js';
import { SshConnection } from '../../../src/docker/ssh-connection.js';

/** A loopback port with nothing listening on it (bound once, then closed). */
async function deadPort(): Promise<number> {
  const srv: Server = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('SshConnection backoff', () => {
  let port: number;
  let now = 1_000_000;
  const conns: SshConnection[] = [];
  beforeAll(async () => {
    port = await deadPort();
  });
  afterAll(() => {
    for (const c of conns) c.close();
  });
  const make = () => {
    const c = new SshConnection({
      name: 'edge',
      host: '127.0.0.1',
      port,
      username: 'deploy',
      hostKey: `SHA256:${'A'.repeat(43)}`,
      backoffMs: { min: 1000, max: 4000 },
      now: () => now,
    });
    conns.push(c);
    return c;
  };

  it('fails with a clear unreachable state, answers at once during the backoff, then tries again', async () => {
    const c = make();
    expect(c.state).toBe('idle');
    const first = await c.connect().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(SiteFlowError);
    expect(first).toMatchObject({
      code: 'DOCKER_UNREACHABLE',
      details: { host: 'edge', sshState: 'unreachable' },
    });
    expect((first as Error).message).toMatch(
      /host edge: host unreachable: SSH to deploy@127\.0\.0\.1:\d+ failed \(ECONNREFUSED\)/,
    );
    expect(c.state).toBe('unreachable');
    expect(c.reason).toBe((first as Error).message);
    // Within the backoff the same failure comes back without a new attempt.
    now += 999;
    await expect(c.connect()).rejects.toBe(first);
    // After it, a new attempt (a new error); the next backoff is twice as long.
    now += 2;
    const second = await c.connect().catch((e: unknown) => e);
    expect(second).not.toBe(first);
    now += 1500;
    await expect(c.connect()).rejects.toBe(second);
    now += 600;
    const third = await c.connect().catch((e: unknown) => e);
    expect(third).not.toBe(second);
    // Capped at 4 s.
    now += 4001;
    await expect(c.connect()).rejects.not.toBe(third);
  });

  it('refuses every use once closed', async () => {
    const c = make();
    c.close();
    await expect(c.connect()).rejects.toThrow(/SiteFlow is stopping/);
  });
});

describe('SshConnection agent', () => {
  it('inspects as one short line: docker-modem inspects every request options object, agent included', () => {
    const c = new SshConnection({
      name: 'edge',
      host: '127.0.0.1',
      port: 1,
      username: 'deploy',
      hostKey: `SHA256:${'A'.repeat(43)}`,
    });
    try {
      // What docker-modem's buildRequest does on every call, debug on or not.
      const shown = inspect(
        { path: '/containers/json', agent: c.agent() },
        { showHidden: true, depth: null },
      );
      expect(shown).toContain('[SSH agent of host edge]');
      expect(shown.length).toBeLessThan(200);
    } finally {
      c.close();
    }
  });
});
