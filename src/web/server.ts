/**
 * The HTTP side of SiteFlow: read-only routes only. For now `/healthz` (liveness with
 * database reachability); the status page builds on this server.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import helmet from 'helmet';
import type { Logger } from '../core/ports.js';

/** A named health check; it throws or returns false when unhealthy. */
export type HealthCheck = () => boolean | Promise<boolean>;

/** What the web server needs. */
export interface WebDeps {
  host: string;
  port: number;
  logger: Logger;
  checks: Record<string, HealthCheck>;
}

/** A listening web server. */
export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** Builds the express app (exported for tests that want no socket). */
export function createWebApp(deps: Pick<WebDeps, 'checks'>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(helmet());
  app.get('/healthz', async (_req, res) => {
    const results: Record<string, boolean> = {};
    for (const [name, check] of Object.entries(deps.checks)) {
      try {
        results[name] = await check();
      } catch {
        results[name] = false;
      }
    }
    // Liveness: the process answers and its database works; engines are reported, not required.
    const ok = results.database !== false;
    res.status(ok ? 200 : 503).json({ ok, checks: results });
  });
  return app;
}

/** Starts listening. */
export async function startWebServer(deps: WebDeps): Promise<WebServer> {
  const app = createWebApp(deps);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(deps.port, deps.host, (e?: Error) => (e ? reject(e) : resolve(s)));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${deps.host.includes(':') ? `[${deps.host}]` : deps.host}:${port}`;
  deps.logger.info({ url }, 'web server listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
