/**
 * /provision and /deprovision on an ssh:// host for real: edge is a second dockerd reachable only
 * through a real sshd on loopback (test/support/ssh-edge.ts), its disk a folder tree owned by the
 * ssh user. edge's Caddy is a caddy started here whose admin API listens only on 127.0.0.1; SiteFlow
 * knows it only from CADDY_ADMIN_URLS for edge and reaches it through the SSH connection (sshd logs
 * each forward at DEBUG1). Sites use the busybox stand-in templates of the provisioning tests
 * (web: busybox httpd; db: a database stand-in) through IMAGE_OVERRIDES, and are labelled
 * siteflow.test=<runId> through PROVISION_LABELS. SiteFlow runs with an empty HOME and a
 * recording `ssh` on PATH. The crash test runs SiteFlow as a process of its own and SIGKILLs it
 * mid-provision; a SiteFlow started on its data folder then undoes the provision on edge.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { completionSource } from '../../../src/chat/completions.js';
import {
  type CaddyHandle,
  freePort,
  run,
  runId,
  startCaddy,
  TEST_LABEL,
  tempDir,
  testDocker,
  waitFor,
} from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';
import { spawnSiteFlow } from '../../support/siteflow-process.js';
import { type SshEdge, startSshEdge } from '../../support/ssh-edge.js';
import { getVia, PINNED, projectFilter, projectObjects, writeTestTemplates } from '../provision/fixtures.js';

const env = inject('siteflowTestEnv');
let edge: SshEdge;
let caddy: CaddyHandle;
let caddyPort: number;
let sf: TestSiteFlow;
let sfEnv: Record<string, string>;
/** The SiteFlow started after the crash (its own data folder). */
let again: TestSiteFlow | undefined;
let docker: Docker;
const tag = runId.replace(/[^0-9]/g, '').slice(-10);
const name = (s: string) => `sp${tag}-${s}`;

const caddyConfig = async () => (await fetch(`http://${caddy.adminAddress}/config/`)).text();

/** Forwards sshd opened to 127.0.0.1:`port` on edge since `from` (characters into its log). */
function forwardsTo(port: number, from: number): string[] {
  return readFileSync(edge.sshd.logPath, 'utf8')
    .slice(from)
    .split('\n')
    .filter((l) => new RegExp(`direct_tcpip: originator .* target 127\\.0\\.0\\.1 port ${port}\\b`).test(l));
}

/** No folder, snippet, route, container or network of `site` left on edge; only `volumes`. */
async function expectGoneFromEdge(site: string, domain: string, volumes: string[]): Promise<void> {
  expect(existsSync(join(edge.root, site))).toBe(false);
  expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(false);
  expect(await caddyConfig()).not.toContain(domain);
  expect(await projectObjects(edge.engine.docker, site)).toEqual({ containers: 0, networks: 0, volumes });
}

const provision = (args: string) =>
  sf.driver.type(`/provision ${args}`, /op_\w+ (succeeded|failed|timed out|cancelled)/, 180_000);

beforeAll(async () => {
  docker = testDocker(env);
  edge = await startSshEdge(env, { sshdLogLevel: 'DEBUG1' });
  // edge's Caddy: its sites folder is the ssh user's (SiteFlow writes there over SFTP), and
  // `caddy adapt` runs there as that user.
  caddy = await startCaddy(env);
  await run('chmod', ['755', caddy.dir]);
  edge.own(caddy.sitesDir);
  caddyPort = await freePort();
  const templatesDir = tempDir('templates');
  writeTestTemplates(templatesDir);
  edge.isolate();
  sfEnv = {
    ...edge.env(),
    TEMPLATES_DIR: templatesDir,
    // This machine has no Caddy for SiteFlow: CADDY_SITES_DIR stays unset.
    CADDY_SITES_DIRS: `edge=${caddy.sitesDir}`,
    CADDYFILES: `edge=${caddy.caddyfile}`,
    CADDY_ADMIN_URLS: `edge=http://${caddy.adminAddress}`,
    CADDY_BIN: env.tools.caddy ?? 'caddy',
    CADDY_SITE_PORT: String(caddyPort),
    // The busybox stand-in image is loaded into edge's engine: nothing is pulled.
    IMAGE_OVERRIDES: [`${PINNED.web}=${env.images.busybox}`, `${PINNED.db}=${env.images.busybox}`].join(','),
    PROVISION_LABELS: `${TEST_LABEL}=${runId}`,
    PROVISION_HEALTH_TIMEOUT_SECONDS: '15',
  };
  sf = await startTestSiteFlow(sfEnv);
}, 300_000);

afterAll(async () => {
  await sf?.stop();
  await again?.stop();
  await caddy?.stop();
  // Everything on edge's private engine and in its tree goes with it.
  await edge?.stop();
});

describe('provision and deprovision on edge (busybox httpd + database stand-in)', () => {
  const site = name('a');
  const domain = `${site}.localhost`;

  it('creates the folder in edge’s tree over SFTP (.env 0600), starts it on edge, serves it through edge’s Caddy', async () => {
    const logFrom = readFileSync(edge.sshd.logPath, 'utf8').length;
    const out = await provision(`${site} duo ${domain} edge`);
    expect(out).toMatch(/succeeded, exit 0/);
    const dir = join(edge.root, site);
    expect(out).toContain(`Creating ${dir} on host edge`);
    expect(out).toContain(
      `Caddy: loaded through the admin API at http://${caddy.adminAddress} on host edge (through its SSH connection)`,
    );
    expect(out).toMatch(/db: up \(healthy\)/);
    expect(out).toMatch(/web: up \(healthy\)/);
    expect(out).toContain('GET /: HTTP 200');

    // Written by the ssh user (over SFTP), the .env owner-only.
    const envFile = join(dir, '.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    for (const f of [dir, envFile, join(dir, 'docker-compose.yml'), join(caddy.sitesDir, `${site}.caddy`)])
      expect(statSync(f).uid).toBe(edge.uid);
    const password = /^DB_PASSWORD=([0-9a-f]+)$/m.exec(readFileSync(envFile, 'utf8'))?.[1] ?? '';
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    expect(sf.driver.transcript).not.toContain(password);

    // On edge's engine, none on the local one.
    const onEdge = await edge.engine.docker.listContainers({ filters: projectFilter(site) });
    expect(onEdge).toHaveLength(2);
    for (const c of onEdge) expect(c.Labels[TEST_LABEL]).toBe(runId);
    expect((await projectObjects(docker, site)).containers).toBe(0);

    // Served through edge's Caddy, whose admin API SiteFlow reached by an SSH forward.
    expect(await getVia(caddyPort, domain)).toEqual({
      status: 200,
      body: `<h1>site ${site} via SiteFlow</h1>\n`,
    });
    expect(await caddyConfig()).toContain(domain);
    expect(forwardsTo(caddy.adminPort, logFrom).length).toBeGreaterThan(0);

    const status = await sf.driver.type('/status', /site\s+state|No sites/, 30_000);
    expect(status).toContain(`edge/${site}`);
  });

  it('the status page, its API, the graph and host autocomplete show edge, reachable, with the site', async () => {
    type Status = {
      hosts: Array<{ name: string; reachable: boolean | null; sites: Array<{ name: string }> }>;
    };
    const edgeHost = async () =>
      ((await (await fetch(`${sf.app.webUrl}/api/status`)).json()) as Status).hosts.find(
        (h) => h.name === 'edge',
      );
    await waitFor('edge and its new site on /api/status', async () => {
      const h = await edgeHost();
      return h?.reachable === true && h.sites.some((x) => x.name === site);
    });
    const page = await (await fetch(`${sf.app.webUrl}/`)).text();
    expect(page).toMatch(/edge[\s\S]*reachable/);
    expect(page).toContain(site);
    const graph = (await (await fetch(`${sf.app.webUrl}/api/graph`)).json()) as {
      nodes: Array<{ kind: string; key: string; state: string; tone: string }>;
    };
    expect(graph.nodes.find((n) => n.kind === 'host' && n.key === 'edge')).toMatchObject({
      state: 'host · reachable',
      tone: 'good',
    });
    expect(graph.nodes.some((n) => n.kind === 'site' && n.key.includes(site))).toBe(true);
    const complete = completionSource({ state: sf.app.live, operations: () => [], templates: () => [] });
    expect(await complete('host', 'ed', {})).toEqual(['edge']);
  });

  it('/deprovision edge/<site> stops it on edge, removes the route there and archives in edge’s tree', async () => {
    const ask = await sf.driver.type(`/deprovision edge/${site}`, /\/confirm (cf_[0-9a-f]{16})/);
    expect(ask).toContain(`Deprovision ${site} on edge`);
    const id = /\/confirm (cf_[0-9a-f]{16})/.exec(ask)![1]!;
    const out = await sf.driver.type(`/confirm ${id}`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(out).toMatch(/succeeded, exit 0/);
    expect(out).toMatch(/Removed the Caddy route/);
    expect(out).toMatch(/Archived .* on host edge and removed the folder/);

    // Its named volume is kept, as deprovision does without remove-volumes.
    await expectGoneFromEdge(site, domain, [`${site}_db-data`]);
    const archives = readdirSync(join(edge.root, '.archive')).filter((f) => f.startsWith(`${site}-`));
    expect(archives).toHaveLength(1);
    const archive = join(edge.root, '.archive', archives[0]!);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    expect(statSync(archive).uid).toBe(edge.uid);
    const listing = (await run('tar', ['-tzf', archive])).stdout;
    expect(listing).toContain(`${site}/.env`);
    expect(listing).toContain(`${site}/docker-compose.yml`);
  });
});

describe('a failure on edge mid-provision', () => {
  it('the database stand-in never gets healthy: folder, snippet, route and containers on edge are undone', async () => {
    const site = name('slow');
    const domain = `${site}.localhost`;
    const out = await provision(`${site} slow ${domain} edge`);
    expect(out).toMatch(/op_\w+ failed/);
    expect(out).toMatch(/Provision failed: .*not healthy within 15 s/);
    expect(out).toMatch(/Undoing 3 steps/);
    expect(out).toMatch(/undone: stopped and removed the containers/);
    expect(out).toMatch(/undone: removed .*\.caddy and reloaded Caddy/);
    expect(out).toContain(`undone: removed ${join(edge.root, site)}`);

    await expectGoneFromEdge(site, domain, []);
  });

  it('never ran a system ssh', () => {
    expect(edge.sshCalled()).toBe(false);
  });
});

describe('a provision on edge interrupted by a crash of SiteFlow', () => {
  it('is undone on edge at the next start: folder, snippet, route and containers there are gone', async () => {
    const site = name('crash');
    const domain = `${site}.localhost`;
    const dir = tempDir('crash');
    const own = {
      ...sfEnv,
      DATA_DIR: join(dir, 'data'),
      SITES_ROOT: join(dir, 'sites'),
      PROVISION_HEALTH_TIMEOUT_SECONDS: '120',
    };
    // SiteFlow as a process of its own, with edge's configuration, killed while it waits for health.
    const p = spawnSiteFlow(dir, own, { detached: true });
    try {
      await p.waitFor(/Type \/help/, 60_000);
      // `slow`: its database stand-in never becomes healthy, so the provision waits.
      p.child.stdin!.write(`/provision ${site} slow ${domain} edge\n`);
      await waitFor(
        'containers created on edge',
        async () => (await projectObjects(edge.engine.docker, site)).containers > 0,
        90_000,
      );
      expect(existsSync(join(edge.root, site))).toBe(true);
      expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(true);
    } finally {
      await p.kill();
    }

    again = await startTestSiteFlow(own, { dir });
    const { audit } = again.app.services;
    await waitFor(
      'interrupted provision undone',
      () => audit.query({ action: 'provision-undo', site, limit: 5 }).entries[0]?.outcome === 'ok',
      120_000,
    );
    expect(audit.query({ action: 'provision', site, limit: 5 }).entries.map((e) => e.outcome)).toEqual([
      'interrupted',
    ]);
    // Whatever compose on edge still did after the crash, nothing of the site is left there.
    await waitFor(
      'nothing of the site left on edge',
      async () => (await projectObjects(edge.engine.docker, site)).containers === 0,
      60_000,
    );
    await expectGoneFromEdge(site, domain, []);
    expect(edge.sshCalled()).toBe(false);
  }, 400_000);
});
