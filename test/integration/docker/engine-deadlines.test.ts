/**
 * Deadlines and per-host isolation against the real engine:
 * - a second "host" whose unix socket accepts connections but never answers (a net.Server
 *   stand-in for a hung dockerd): SiteFlow starts, the console answers, /status lists the
 *   healthy host's sites within 5 s and names the hung one, /healthz answers, and a kill on
 *   the healthy host still alerts;
 * - the real engine reached over tcp:// (a loopback tcp->unix relay): /restart of a container
 *   that ignores SIGTERM (the whole 10 s stop timeout) succeeds, which docker-modem's
 *   connectionTimeout (a 10 s limit on the whole answer) used to fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ComposeProject,
  createComposeProject,
  killContainer,
  run,
  testDocker,
  waitFor,
} from '../../env/harness.js';
import { type DockerProxy, startDockerProxy } from '../../support/docker-proxy.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };

/** A unix socket that accepts every connection and never says a word. */
async function hungSocket(path: string): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A tcp listener on 127.0.0.1 relaying every connection to the test engine's unix socket. */
async function tcpRelay(socketPath: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection(socketPath);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('a host that accepts connections but never answers', () => {
  let dir: string;
  let hung: { close(): Promise<void> };
  let site: ComposeProject;
  let sf: TestSiteFlow;
  let startedInMs = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sf-hung-'));
    hung = await hungSocket(join(dir, 'docker.sock'));
    site = createComposeProject(
      { name: 'hungpeer', services: { web: { command: ['sleep', '3600'], restart: 'unless-stopped' } } },
      env,
    );
    await site.up();
    const t0 = Date.now();
    sf = await startTestSiteFlow({
      DOCKER_HOSTS: `local=${env.dockerHost},hung=unix://${join(dir, 'docker.sock')}`,
      // The default call deadline (30 s): the point is that nothing waits for it.
      ALERT_STORM_THRESHOLD: '1000',
      ALERT_RECOVER_AFTER_SECONDS: '1',
    });
    await sf.driver.type('/help', 'Options go in order', 15_000);
    startedInMs = Date.now() - t0;
  }, 120_000);

  afterAll(async () => {
    await sf?.stop();
    await hung?.close();
    await site?.down().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts and answers the console within 15 s', () => {
    expect(startedInMs).toBeLessThan(15_000);
  });

  it('/status answers within 5 s with the healthy host and names the hung one', async () => {
    const t0 = Date.now();
    const out = await sf.driver.type('/status', /hung: not answering/, 10_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(out).toContain(site.name);
  });

  it('/healthz answers', async () => {
    const res = await fetch(`${sf.app.webUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { checks: Record<string, boolean> };
    expect(body.checks.database).toBe(true);
  });

  it('a kill on the healthy host still alerts', async () => {
    const ids = (
      await run('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${site.name}`], {
        env: cliEnv,
      })
    ).stdout
      .trim()
      .split('\n')
      .filter(Boolean);
    expect(ids).toHaveLength(1);
    // The live state (which the monitor follows) has the site up before the kill.
    await waitFor(
      'site up in the live state',
      () => sf.app.live.site('local', site.name)?.state === 'up',
      10_000,
    );
    const from = sf.driver.transcript.length;
    const died = await killContainer(testDocker(env), ids[0]!);
    await sf.driver.waitFor(new RegExp(`ALERT .*${site.name} is`), from, 10_000);
    expect(Date.now() - died).toBeLessThan(2_000);
  });
});

describe('a tcp:// engine', () => {
  let relay: { port: number; close(): Promise<void> };
  let stubborn: ComposeProject;
  let sf: TestSiteFlow;

  beforeAll(async () => {
    if (!env.dockerHost.startsWith('unix://'))
      throw new Error(`expected a unix test engine: ${env.dockerHost}`);
    relay = await tcpRelay(env.dockerHost.slice('unix://'.length));
    // PID 1 ignoring SIGTERM: a restart takes the whole 10 s stop timeout.
    stubborn = createComposeProject(
      {
        name: 'tcpstubborn',
        services: {
          app: { init: false, command: ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'] },
        },
      },
      env,
    );
    await stubborn.up();
    sf = await startTestSiteFlow({
      MONITOR_ENABLED: 'false',
      DOCKER_HOSTS: `lo=tcp://127.0.0.1:${relay.port}`,
      HEALTH_TIMEOUT_SECONDS: '30',
    });
  }, 120_000);

  afterAll(async () => {
    await sf?.stop();
    await stubborn?.forceDown().catch(() => undefined);
    await relay?.close();
  });

  it('/restart of a container that takes 10 s to stop succeeds', async () => {
    const out = await sf.driver.type(`/restart ${stubborn.name}`, /op_\w+ (succeeded|failed)/, 90_000);
    expect(out).toMatch(/op_\w+ succeeded/);
  }, 120_000);
});

describe('a host that answered, then stops answering (a proxy holding every request stands in for an overloaded dockerd)', () => {
  let proxy: DockerProxy;
  let site: ComposeProject;
  let sf: TestSiteFlow;

  beforeAll(async () => {
    proxy = await startDockerProxy(env.dockerHost);
    site = createComposeProject({ name: 'slowpeer', services: { web: { command: ['sleep', '3600'] } } }, env);
    await site.up();
    sf = await startTestSiteFlow({
      MONITOR_ENABLED: 'false',
      DOCKER_HOSTS: `local=${env.dockerHost},busy=${proxy.dockerHost}`,
    });
    await waitFor('busy listed once', () => sf.app.live.site('busy', site.name)?.state === 'up', 30_000);
  }, 120_000);

  afterAll(async () => {
    proxy?.hold(false);
    await sf?.stop();
    await proxy?.stop();
    await site?.down().catch(() => undefined);
  });

  it('/status shows its sites as last seen, says it is not answering, and still lists the healthy host', async () => {
    // From now on no request reaches the engine; the event stream already open goes on.
    proxy.hold(true);
    const out = await sf.driver.type('/status', /busy: not answering/, 15_000);
    expect(out).toMatch(/busy: not answering \(no answer within 3 s\); its sites as last seen \d+s ago/);
    expect(out).toContain(`busy/${site.name}`);
    expect(out).toContain(`local/${site.name}`);
  });
});
