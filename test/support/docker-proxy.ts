/**
 * A unix-socket proxy in front of the test engine that can hold every request (an engine that
 * accepts connections and never answers), to prove that a code path makes no Docker call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running proxy. */
export interface DockerProxy {
  /** `unix://…` for DOCKER_HOSTS. */
  dockerHost: string;
  /** While held, new bytes from clients are kept back instead of forwarded. */
  hold(on: boolean): void;
  /** The request lines (`GET /v1.47/containers/json?…`) clients sent so far, held ones included. */
  readonly requests: readonly string[];
  stop(): Promise<void>;
}

/** Starts a proxy to the engine at `target` (a unix:// DOCKER_HOST). */
export async function startDockerProxy(target: string): Promise<DockerProxy> {
  const upstreamPath = target.replace(/^unix:\/\//, '');
  const dir = mkdtempSync(join(tmpdir(), 'sf-dproxy-'));
  const path = join(dir, 'docker.sock');
  let held = false;
  const heldQueue: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPath);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      // docker-modem writes each request's head in one chunk: its first line is the request line.
      const line = /^(GET|POST|PUT|DELETE|HEAD) \S+/.exec(chunk.subarray(0, 2048).toString('latin1'));
      if (line) requests.push(line[0]);
      if (held) heldQueue.push(() => upstream.write(chunk));
      else upstream.write(chunk);
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    dockerHost: `unix://${path}`,
    requests,
    hold(on) {
      held = on;
      if (!on) for (const f of heldQueue.splice(0)) f();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
