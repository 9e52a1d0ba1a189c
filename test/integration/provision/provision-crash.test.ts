/**
 * Crash recovery of /provision against the real engine, compose and Caddy: SiteFlow runs as a
 * process and is SIGKILLed (with its compose child, as `docker kill` of its container would)
 * while /provision waits for the site to become healthy. At the next start the interrupted
 * provision is undone from its journal: the site folder, the Caddy snippet (and route) and the
 * containers, networks and volumes are gone, the audit shows the provision interrupted and then
 * undone, and a new /provision of the same name succeeds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../../src/db/database.js';
import { SqliteProvisionJournal } from '../../../src/db/sqlite-provision-journal.js';
import {
  type CaddyHandle,
  freePort,
  runId,
  startCaddy,
  TEST_LABEL,
  tempDir,
  testDocker,
  waitFor,
} from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';
import { spawnSiteFlow } from '../../support/siteflow-process.js';
import { PINNED, writeTestTemplates } from './fixtures.js';

const env = inject('siteflowTestEnv');
let docker: Docker;
let caddy: CaddyHandle;
let dir: string;
let sfEnv: Record<string, string>;
let again: TestSiteFlow | undefined;
const site = `pc${runId.replace(/[^0-9]/g, '').slice(-10)}`;
const filters = () => ({ label: [`com.docker.compose.project=${site}`, `${TEST_LABEL}=${runId}`] });

async function leftovers() {
  const containers = await docker.listContainers({ all: true, filters: filters() });
  const networks = await docker.listNetworks({ filters: filters() });
  const volumes = (await docker.listVolumes({ filters: filters() })).Volumes ?? [];
  return { containers: containers.length, networks: networks.length, volumes: volumes.length };
}

beforeAll(async () => {
  docker = testDocker(env);
  caddy = await startCaddy(env);
  const templatesDir = tempDir('templates');
  writeTestTemplates(templatesDir);
  dir = mkdtempSync(join(tmpdir(), 'sf-pcrash-'));
  sfEnv = {
    DATA_DIR: join(dir, 'data'),
    SITES_ROOT: join(dir, 'sites'),
    DOCKER_HOSTS: env.dockerHost,
    MONITOR_ENABLED: 'false',
    TEMPLATES_DIR: templatesDir,
    CADDY_SITES_DIR: caddy.sitesDir,
    CADDYFILE: caddy.caddyfile,
    CADDY_ADMIN_URL: `http://${caddy.adminAddress}`,
    CADDY_SITE_PORT: String(await freePort()),
    IMAGE_OVERRIDES: `${PINNED.web}=${env.images.registryBusybox},${PINNED.db}=${env.images.registryBusybox}`,
    PROVISION_LABELS: `${TEST_LABEL}=${runId}`,
    PROVISION_HEALTH_TIMEOUT_SECONDS: '120',
  };
}, 60_000);

afterAll(async () => {
  await again?.stop();
  for (const c of await docker.listContainers({ all: true, filters: filters() }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  for (const n of await docker.listNetworks({ filters: filters() }))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  for (const v of (await docker.listVolumes({ filters: filters() })).Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => undefined);
  await caddy?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('/provision interrupted by a crash', () => {
  it('is undone at the next start, audited, and the name can be provisioned again', async () => {
    const p = spawnSiteFlow(dir, sfEnv, { detached: true });
    try {
      await p.waitFor(/Type \/help/, 60_000);
      // `slow`: its database never becomes healthy, so compose up waits for it.
      p.child.stdin!.write(`/provision ${site} slow ${site}.test\n`);
      await p.waitFor(/Starting \d+ image/, 60_000);
      await waitFor('containers created', async () => (await leftovers()).containers > 0, 60_000);
      expect(existsSync(join(sfEnv.SITES_ROOT!, site))).toBe(true);
      expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(true);
    } finally {
      await p.kill();
    }

    again = await startTestSiteFlow(sfEnv, { dir });
    const { audit } = again.app.services;
    await waitFor(
      'interrupted provision undone',
      () => audit.query({ action: 'provision-undo', site, limit: 5 }).entries[0]?.outcome === 'ok',
      120_000,
    );
    expect(existsSync(join(sfEnv.SITES_ROOT!, site))).toBe(false);
    expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(false);
    expect(await leftovers()).toEqual({ containers: 0, networks: 0, volumes: 0 });
    expect(await (await fetch(`http://${caddy.adminAddress}/config/`)).text()).not.toContain(`${site}.test`);
    const provisions = audit.query({ action: 'provision', site, limit: 5 }).entries;
    expect(provisions.map((e) => e.outcome)).toEqual(['interrupted']);
    const undo = audit.query({ action: 'provision-undo', site, limit: 5 }).entries[0]!;
    // The undo streamed into its own run log.
    const op = again.app.services.operations.get(undo.operationId!)!;
    const log = readFileSync(join(sfEnv.DATA_DIR!, 'logs', op.logPath!), 'utf8');
    expect(log).toMatch(/was interrupted by a restart of SiteFlow/);
    expect(log).toMatch(/undone: stopped and removed the containers/);
    expect(log).toMatch(/undone: removed .*\.caddy and reloaded Caddy/);
    expect(log).toMatch(/undone: removed .*sites/);

    const next = await again.driver.type(
      `/provision ${site} duo ${site}.test`,
      /op_\w+ (succeeded|failed|timed out|cancelled)/,
      150_000,
    );
    expect(next).toMatch(/succeeded, exit 0/);
  }, 400_000);

  it('an interrupted deprovision (journal entry written, SiteFlow gone before it ran) is finished at the next start', async () => {
    // The site provisioned by the test above is up; stop SiteFlow and leave the journal entry a
    // deprovision writes first, as if it had been killed right after.
    expect(existsSync(join(sfEnv.SITES_ROOT!, site))).toBe(true);
    await again!.stop();
    again = undefined;
    const db = openDatabase(join(sfEnv.DATA_DIR!, 'siteflow.db'));
    new SqliteProvisionJournal(db.db).begin({
      host: 'local',
      site,
      kind: 'deprovision',
      operationId: null,
      siteDir: join(sfEnv.SITES_ROOT!, site),
      args: { removeVolumes: true, deleteFiles: true },
      startedAt: Date.now(),
    });
    db.close();
    again = await startTestSiteFlow(sfEnv, { dir });
    const { audit } = again.app.services;
    await waitFor(
      'deprovision finished',
      () => audit.query({ action: 'deprovision', site, limit: 5 }).entries[0]?.outcome === 'ok',
      120_000,
    );
    expect(existsSync(join(sfEnv.SITES_ROOT!, site))).toBe(false);
    expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(false);
    expect(await leftovers()).toEqual({ containers: 0, networks: 0, volumes: 0 });
    const check = openDatabase(join(sfEnv.DATA_DIR!, 'siteflow.db'));
    try {
      expect(new SqliteProvisionJournal(check.db).unfinished()).toEqual([]);
    } finally {
      check.close();
    }
  }, 200_000);
});
