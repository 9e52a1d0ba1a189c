/**
 * DockerodeEngine deadlines against stand-in engines on a unix socket (no Docker here):
 * a socket that never answers, and an HTTP server that opens /events and then goes quiet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DockerodeEngine } from '../../../src/docker/dockerode-engine.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempSocket(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sf-deadline-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'docker.sock');
}

async function silentSocket(): Promise<string> {
  const path = tempSocket();
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return path;
}

function engine(socketPath: string, callTimeoutMs: number, keepaliveMs?: number) {
  return new DockerodeEngine({
    name: 'hung',
    docker: { socketPath },
    callTimeoutMs,
    ...(keepaliveMs ? { keepaliveMs } : {}),
  });
}

describe('DockerodeEngine deadlines', () => {
  it('a call to an engine that never answers fails with DOCKER_TIMEOUT at its deadline', async () => {
    const e = engine(await silentSocket(), 300);
    const t0 = Date.now();
    await expect(e.inspect('abc')).rejects.toMatchObject({ code: 'DOCKER_TIMEOUT' });
    await expect(e.listSites()).rejects.toMatchObject({ code: 'DOCKER_TIMEOUT' });
    await expect(e.imageDigest('busybox:1')).rejects.toMatchObject({ code: 'DOCKER_TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("a restart's deadline is its stop timeout plus the call timeout", async () => {
    const e = engine(await silentSocket(), 300);
    const t0 = Date.now();
    await expect(e.restartContainer('abc', { timeoutSec: 1 })).rejects.toMatchObject({
      code: 'DOCKER_TIMEOUT',
    });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1250);
    expect(took).toBeLessThan(6000);
  });

  it("the caller's abort is an abort, not a timeout", async () => {
    const e = engine(await silentSocket(), 10_000);
    const ctl = new AbortController();
    const p = e.restartContainer('abc', { signal: ctl.signal });
    ctl.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('an event stream that opens and then goes quiet on a hung engine ends with DOCKER_UNREACHABLE', async () => {
    const path = tempSocket();
    const open: ServerResponse[] = [];
    const server = createHttpServer((req, res) => {
      if (req.url?.includes('/events')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        open.push(res);
      }
      // Anything else (the keepalive ping) never gets an answer: the engine hangs.
    });
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const e = engine(path, 300, 200);
    const t0 = Date.now();
    const consume = async () => {
      for await (const _ of e.events()) {
        // none arrive
      }
    };
    await expect(consume()).rejects.toMatchObject({ code: 'DOCKER_UNREACHABLE' });
    expect(open).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
