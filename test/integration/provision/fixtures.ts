/**
 * Test templates for provisioning against the real engine. Their images are pinned to names
 * under example.invalid and overridden (IMAGE_OVERRIDES) to the test busybox image in the
 * local registry, the way a user points templates at a mirror. The stand-ins are honest:
 * `web` is busybox httpd serving the site's www/ folder; `db` stands in for a database: it
 * refuses to start without its generated password, keeps its data on a named volume, and
 * its healthcheck answers only once it is serving; `web` depends on `db` being healthy.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type Docker from 'dockerode';

const DUO_COMPOSE = `services:
  web:
    image: {{images.web}}
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
      - "127.0.0.1:{{port}}:8080"
    volumes:
      - ./www:/www:ro
    depends_on:
      db:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 30
  db:
    image: {{images.db}}
    init: true
    command: ["sh", "-c", "test -n \\"$$DB_PASSWORD\\" && echo ready > /data/ready && exec httpd -f -p 5432 -h /data"]
    environment:
      DB_PASSWORD: "\${DB_PASSWORD}"
      DB_NAME: "\${DB_NAME}"
    volumes:
      - db-data:/data
    healthcheck:
      test: {{{dbHealth}}}
      interval: 1s
      retries: 60
      start_period: 120s
volumes:
  db-data: {}
`;

const CADDY = `{{address}} {
	reverse_proxy 127.0.0.1:{{port}}
}
`;

function meta(images: Record<string, string>, extra: Record<string, unknown> = {}) {
  return {
    description: 'Two-service test site: busybox httpd and a database stand-in',
    stack: 'busybox httpd + database stand-in',
    images,
    services: [
      { name: 'web', role: 'web' },
      { name: 'db', role: 'database' },
    ],
    web: { service: 'web', port: 8080 },
    adminPath: '/admin',
    parameters: [
      { name: 'DB_NAME', value: '{{siteId}}' },
      { name: 'DB_PASSWORD', secret: true, generate: 'password' },
    ],
    health: { containers: true, http: [{ path: '/', expect: [200] }] },
    dirs: ['www'],
    files: [{ path: 'www/index.html', template: 'index.html.hbs' }],
    ...extra,
  };
}

/** Image references the test templates pin; override each to a real image. */
export const PINNED = {
  web: 'example.invalid/siteflow/web:1.0',
  db: 'example.invalid/siteflow/db:1.0',
  ghost: 'example.invalid/siteflow/ghost:1.0',
  local: 'example.invalid/siteflow/local:1.0',
} as const;

/** Writes the test templates `duo` (healthy), `slow` (db never healthy), `ghost` (bad image) and `localonly` (a local-only image). */
export function writeTestTemplates(dir: string): void {
  const write = (name: string, m: unknown, dbHealth: string) => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'template.json'), JSON.stringify(m, null, 2));
    writeFileSync(join(d, 'compose.yml.hbs'), DUO_COMPOSE.replace('{{{dbHealth}}}', dbHealth));
    writeFileSync(join(d, 'Caddyfile.hbs'), CADDY);
    writeFileSync(join(d, 'index.html.hbs'), '<h1>site {{site}} via SiteFlow</h1>\n');
  };
  const ready = '["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5432/ready"]';
  write('duo', meta({ web: PINNED.web, db: PINNED.db }), ready);
  // The database never becomes ready: its probe asks a port nothing listens on.
  write(
    'slow',
    meta({ web: PINNED.web, db: PINNED.db }),
    '["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9/"]',
  );
  write('ghost', meta({ web: PINNED.web, db: PINNED.ghost }), ready);
  // Its database image exists only on the engine (built or loaded there, in no registry).
  write('localonly', meta({ web: PINNED.web, db: PINNED.local }), ready);
}

/** GET / from 127.0.0.1:port with the Host header `host:port` (a site behind Caddy); never rejects. */
export function getVia(
  port: number,
  host: string,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', headers: { host: `${host}:${port}` }, timeout: 5_000 },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', (e) => resolve({ error: e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Filters for the objects of `site`'s compose project. */
export const projectFilter = (site: string) => ({ label: [`com.docker.compose.project=${site}`] });

/** How many containers and networks, and which volumes, `site`'s compose project has on `engine`. */
export async function projectObjects(engine: Docker, site: string) {
  const containers = await engine.listContainers({ all: true, filters: projectFilter(site) });
  const networks = await engine.listNetworks({ filters: projectFilter(site) });
  const volumes = (await engine.listVolumes({ filters: projectFilter(site) })).Volumes ?? [];
  return { containers: containers.length, networks: networks.length, volumes: volumes.map((v) => v.Name) };
}
