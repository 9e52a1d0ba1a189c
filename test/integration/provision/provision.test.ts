/**
 * /provision, /deprovision and /templates through the console against the real engine,
 * compose v1 and a real Caddy on loopback. Sites use the test templates of fixtures.ts
 * (images from the local registry through IMAGE_OVERRIDES) and are labelled
 * siteflow.test=<runId> through PROVISION_LABELS; SITES_ROOT and CADDY_SITES_DIR are temp dirs.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type CaddyHandle,
  freePort,
  registryRunImage,
  run,
  runId,
  startCaddy,
  TEST_LABEL,
  tempDir,
  testDocker,
} from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';
import { getVia, PINNED, projectFilter, projectObjects, writeTestTemplates } from './fixtures.js';

const env = inject('siteflowTestEnv');
let docker: Docker;
let caddy: CaddyHandle;
let caddyPort: number;
let sf: TestSiteFlow;
let sitesRoot: string;
const tag = runId.replace(/[^0-9]/g, '').slice(-10);
const name = (s: string) => `pv${tag}-${s}`;
const used = new Set<string>();
const LOCAL_REF = `127.0.0.1:1/siteflow-test/run-${runId}/localonly:1`;

/** GET through Caddy on loopback with the given Host header. */
const viaCaddy = (host: string) => getVia(caddyPort, host);

const leftovers = (site: string) => projectObjects(docker, site);

async function caddyConfig(): Promise<string> {
  return await (await fetch(`http://${caddy.adminAddress}/config/`)).text();
}

async function provision(args: string): Promise<string> {
  const n = args.split(' ')[0]!;
  used.add(n);
  return sf.driver.type(`/provision ${args}`, /op_\w+ (succeeded|failed|timed out|cancelled)/, 150_000);
}

async function expectNothingLeft(site: string, domain: string): Promise<void> {
  expect(existsSync(join(sitesRoot, site))).toBe(false);
  expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(false);
  expect(await leftovers(site)).toEqual({ containers: 0, networks: 0, volumes: [] });
  expect(await caddyConfig()).not.toContain(domain);
}

beforeAll(async () => {
  docker = testDocker(env);
  caddy = await startCaddy(env);
  caddyPort = await freePort();
  const templatesDir = tempDir('templates');
  writeTestTemplates(templatesDir);
  const missing = `${registryRunImage('missing', env)}:1`; // never pushed
  // Tagged on the engine only; its "registry" is a loopback port nothing listens on.
  await docker.getImage(env.images.busybox).tag({ repo: LOCAL_REF.replace(/:1$/, ''), tag: '1' });
  sf = await startTestSiteFlow({
    DOCKER_HOSTS: env.dockerHost,
    TEMPLATES_DIR: templatesDir,
    CADDY_SITES_DIR: caddy.sitesDir,
    CADDYFILE: caddy.caddyfile,
    CADDY_ADMIN_URL: `http://${caddy.adminAddress}`,
    CADDY_SITE_PORT: String(caddyPort),
    IMAGE_OVERRIDES: [
      `${PINNED.web}=${env.images.registryBusybox}`,
      `${PINNED.db}=${env.images.registryBusybox}`,
      `${PINNED.ghost}=${missing}`,
      `${PINNED.local}=${LOCAL_REF}`,
    ].join(','),
    PROVISION_LABELS: `${TEST_LABEL}=${runId}`,
    PROVISION_HEALTH_TIMEOUT_SECONDS: '15',
  });
  sitesRoot = sf.app.config.SITES_ROOT;
});

afterAll(async () => {
  await sf?.stop();
  // Remove exactly what this file's sites left (only on failures): containers, networks, volumes.
  for (const site of used) {
    const filters = { label: [`com.docker.compose.project=${site}`, `${TEST_LABEL}=${runId}`] };
    for (const c of await docker.listContainers({ all: true, filters }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    for (const n of await docker.listNetworks({ filters }))
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined);
    for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
      await docker
        .getVolume(v.Name)
        .remove()
        .catch(() => undefined);
  }
  await caddy?.stop();
  await docker
    ?.getImage(LOCAL_REF)
    .remove()
    .catch(() => undefined);
});

describe('/templates', () => {
  it('lists the built-in CMS templates with stacks and admin paths, and the test templates', async () => {
    const out = await sf.driver.type('/templates', 'Provision one with');
    for (const t of ['static', 'node', 'python', 'wordpress', 'duo']) expect(out).toContain(t);
    expect(out).toMatch(/wordpress\s.*WordPress.*MariaDB.*\/wp-admin\//);
    expect(out).toMatch(/python\s.*Wagtail.*PostgreSQL/);
    expect(out).toMatch(/node\s.*Payload.*MongoDB/);
    expect(out).toMatch(/static\s.*Nginx.*Decap/);
  });
});

describe('provision and deprovision a two-service site', () => {
  const site = name('a');
  // .localhost (RFC 6761): SiteFlow's URL checks of the provisioned domain stay on loopback.
  const domain = `${site}.localhost`;
  let password = '';

  it('creates the folder, a 0600 .env, a Caddy route that answers, and healthy containers', async () => {
    const out = await provision(`${site} duo ${domain}`);
    expect(out).toMatch(/succeeded, exit 0/);
    expect(out).toContain(`Creating ${join(sitesRoot, site)}`);
    expect(out).toMatch(/Caddy: loaded through the admin API/);
    expect(out).toMatch(/db: up \(healthy\)/);
    expect(out).toMatch(/web: up \(healthy\)/);
    expect(out).toContain('GET /: HTTP 200');
    expect(out).toContain(`Site ${site} is up at http://${domain}:${caddyPort}`);

    const dir = join(sitesRoot, site);
    const envFile = join(dir, '.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    password = /^DB_PASSWORD=([0-9a-f]+)$/m.exec(readFileSync(envFile, 'utf8'))?.[1] ?? '';
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    expect(readFileSync(join(dir, 'docker-compose.yml'), 'utf8')).not.toContain(password);
    expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(true);

    const r = await viaCaddy(domain);
    expect(r).toEqual({ status: 200, body: `<h1>site ${site} via SiteFlow</h1>\n` });

    const containers = await docker.listContainers({ filters: projectFilter(site) });
    expect(containers).toHaveLength(2);
    for (const c of containers) {
      expect(c.Labels[TEST_LABEL]).toBe(runId);
      expect(c.Labels['siteflow.site']).toBe(site);
      const info = await docker.getContainer(c.Id).inspect();
      expect(info.State.Health?.Status).toBe('healthy');
    }
    const lo = await leftovers(site);
    expect(lo.volumes).toEqual([`${site}_db-data`]);
    const net = (await docker.listNetworks({ filters: projectFilter(site) }))[0]!;
    expect(net.Labels?.[TEST_LABEL]).toBe(runId);
  });

  it('never shows the generated password: not in output, logs, audit or run log', async () => {
    expect(password).not.toBe('');
    expect(sf.driver.transcript).not.toContain(password);
    expect(sf.logLines.join('\n')).not.toContain(password);
    const audit = sf.app.services.audit.query({ limit: 200 });
    expect(JSON.stringify(audit)).not.toContain(password);
    const logs = join(sf.dir, 'data', 'logs');
    const all = readdirSync(logs, { recursive: true }).map(String);
    for (const f of all) {
      const p = join(logs, f);
      if (statSync(p).isFile()) expect(readFileSync(p, 'utf8')).not.toContain(password);
    }
  });

  it('refuses to provision the same name again and creates nothing', async () => {
    const out = await sf.driver.type(`/provision ${site} duo other.localhost`, 'already exists');
    expect(out).toContain('Pick another name');
  });

  it('asks for confirmation, then takes the site down, removes the route and archives the folder', async () => {
    const ask = await sf.driver.type(`/deprovision ${site}`, /\/confirm (cf_[0-9a-f]{16})/);
    expect(ask).toMatch(/named volumes are kept/);
    expect(existsSync(join(sitesRoot, site))).toBe(true); // nothing happened yet
    const id = /\/confirm (cf_[0-9a-f]{16})/.exec(ask)![1]!;
    const out = await sf.driver.type(`/confirm ${id}`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(out).toMatch(/succeeded, exit 0/);
    expect(out).toMatch(/named volumes were kept/);
    expect(out).toMatch(/Removed the Caddy route/);
    expect(out).toMatch(/Archived .* to .*\.archive/);

    expect(existsSync(join(sitesRoot, site))).toBe(false);
    expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(false);
    expect(await caddyConfig()).not.toContain(domain);
    const r = await viaCaddy(domain);
    expect('body' in r ? r.body : '').not.toContain('via SiteFlow');
    const lo = await leftovers(site);
    expect(lo).toEqual({ containers: 0, networks: 0, volumes: [`${site}_db-data`] }); // kept, as asked
    const archives = readdirSync(join(sitesRoot, '.archive')).filter((f) => f.startsWith(`${site}-`));
    expect(archives).toHaveLength(1);
    const archive = join(sitesRoot, '.archive', archives[0]!);
    expect(archives[0]).toMatch(/-\d{8}T\d{6}Z\.tar\.gz$/);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    const listing = (await run('tar', ['-tzf', archive])).stdout;
    expect(listing).toContain(`${site}/.env`);
    expect(listing).toContain(`${site}/docker-compose.yml`);
    await docker.getVolume(`${site}_db-data`).remove();
  });

  it('with remove-volumes and delete-files removes the volumes and keeps no archive', async () => {
    const b = name('b');
    expect(await provision(`${b} duo ${b}.localhost`)).toMatch(/succeeded, exit 0/);
    const ask = await sf.driver.type(
      `/deprovision ${b} remove-volumes:yes delete-files:yes`,
      /\/confirm (cf_[0-9a-f]{16})/,
    );
    expect(ask).toMatch(/DELETE .*no archive/);
    expect(ask).toMatch(/volumes \(database data\) are REMOVED/);
    const id = /\/confirm (cf_[0-9a-f]{16})/.exec(ask)![1]!;
    const out = await sf.driver.type(`/confirm ${id}`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(out).toMatch(/succeeded, exit 0/);
    expect(out).toMatch(/Deleted .* no archive kept/);
    await expectNothingLeft(b, `${b}.localhost`);
    const archive = join(sitesRoot, '.archive');
    expect(existsSync(archive) ? readdirSync(archive).filter((f) => f.startsWith(`${b}-`)) : []).toEqual([]);
  });
});

describe('a failure at each step undoes everything done before it', () => {
  it('bad image: the pull fails; containers, route and folder are undone', async () => {
    const site = name('img');
    const out = await provision(`${site} ghost ${site}.localhost`);
    expect(out).toMatch(/failed/);
    expect(out).toMatch(/Provision failed: .*missing/i);
    expect(out).toMatch(/Undoing 3 steps/);
    expect(out).toMatch(/undone: stopped and removed the containers/);
    expect(out).toMatch(/undone: removed .*\.caddy and reloaded Caddy/);
    expect(out).toMatch(new RegExp(`undone: removed ${join(sitesRoot, site)}`));
    await expectNothingLeft(site, `${site}.localhost`);
  });

  it('Caddy refuses the config (a conflicting route): snippet and folder are undone, nothing started', async () => {
    const site = name('dup');
    // .localhost (RFC 6761): SiteFlow's URL checks of the provisioned domain stay on loopback.
    const domain = `${site}.localhost`;
    const conflict = caddy.writeSite(
      `zz-conflict-${tag}`,
      `http://${domain}:${caddyPort} {\n\trespond "other"\n}\n`,
    );
    try {
      const out = await provision(`${site} duo ${domain}`);
      expect(out).toMatch(/failed/);
      expect(out).toMatch(/Caddy refused the configuration: .*ambiguous/);
      expect(out).toMatch(/Undoing 2 steps/);
      expect(out).toMatch(/undone: removed .*\.caddy and reloaded Caddy/);
      expect(out).toMatch(new RegExp(`undone: removed ${join(sitesRoot, site)}`));
      expect(out).not.toMatch(/Starting \d image/);
      expect(existsSync(join(sitesRoot, site))).toBe(false);
      expect(existsSync(join(caddy.sitesDir, `${site}.caddy`))).toBe(false);
      expect(await leftovers(site)).toEqual({ containers: 0, networks: 0, volumes: [] });
    } finally {
      rmSync(conflict);
    }
  });

  it('health timeout: the database never gets ready; everything is undone', async () => {
    const site = name('slow');
    const out = await provision(`${site} slow ${site}.localhost`);
    expect(out).toMatch(/failed/);
    // compose itself waits for the db (web depends on it being healthy): the same budget applies.
    expect(out).toMatch(/not healthy within 15 s.*db: starting/);
    expect(out).toMatch(/Undoing 3 steps/);
    await expectNothingLeft(site, `${site}.localhost`);
  });

  it('KEEP_ON_FAILURE is off by default (the failures above left nothing)', () => {
    expect(sf.app.config.KEEP_ON_FAILURE).toBe(false);
  });
});

describe('bad input is a clear error and creates nothing', () => {
  it('refuses bad names, unknown templates and injected domains', async () => {
    const existing = name('exists');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(sitesRoot, existing), { recursive: true });
    writeFileSync(join(sitesRoot, existing, 'keep.txt'), 'mine');
    const before = {
      sites: readdirSync(sitesRoot).sort(),
      snippets: readdirSync(caddy.sitesDir).sort(),
      ops: sf.app.services.operations.list({ limit: 500 }).length,
    };
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ site: '../x', template: 'duo' }, /DNS label/],
      [{ site: 'UPPER', template: 'duo' }, /DNS label/],
      [{ site: 'x'.repeat(64), template: 'duo' }, /at most 63/],
      [{ site: 'caddy', template: 'duo' }, /reserved/],
      [{ site: existing, template: 'duo' }, /already exists/],
      [{ site: name('t'), template: 'nope' }, /Unknown template "nope"/],
      [{ site: name('d1'), template: 'duo', domain: 'a.com\nimport /etc/passwd' }, /special characters/],
      [{ site: name('d2'), template: 'duo', domain: 'a.com {' }, /special characters/],
      [{ site: name('d3'), template: 'duo', domain: 'a b.com' }, /special characters/],
    ];
    for (const [args, problem] of cases) {
      const r = await sf.app.dispatcher.dispatch({
        platform: 'console',
        user: { id: 'local', name: 'local', roles: [] },
        channelId: 'console',
        command: 'provision',
        args,
        receivedAt: Date.now(),
      });
      expect(r.status, JSON.stringify(args)).toBe('invalid');
      expect(r.operationId).toBeUndefined();
      const text = [r.title, ...r.blocks.map((b) => ('text' in b ? b.text : ''))].join('\n');
      expect(text, JSON.stringify(args)).toMatch(problem);
    }
    // The same through the console, as a person would type it.
    expect(await sf.driver.type('/provision ../x duo', 'Invalid input')).toMatch(/DNS label/);
    expect(await sf.driver.type(`/provision ${name('q')} duo "a.com {"`, 'Invalid domain')).toMatch(/braces/);
    expect(readdirSync(sitesRoot).sort()).toEqual(before.sites);
    expect(readdirSync(caddy.sitesDir).sort()).toEqual(before.snippets);
    expect(sf.app.services.operations.list({ limit: 500 }).length).toBe(before.ops);
    expect(readFileSync(join(sitesRoot, existing, 'keep.txt'), 'utf8')).toBe('mine');
  });
});

describe('every built-in template renders to files the real tools accept', () => {
  it('docker-compose config accepts each compose file and caddy adapt each snippet', async () => {
    const { builtInTemplatesDir, TemplateCatalog } = await import(
      '../../../src/provision/template-catalog.js'
    );
    const { renderSite } = await import('../../../src/provision/render-site.js');
    const catalog = TemplateCatalog.load([{ dir: builtInTemplatesDir(), source: 'built-in' }]);
    expect(catalog.names()).toEqual(['node', 'python', 'static', 'wordpress']);
    const composeBin = env.tools.dockerCompose ?? 'docker-compose';
    for (const t of catalog.list()) {
      for (const caddyPortOpt of [null, 8081]) {
        const r = renderSite(t, {
          site: `check-${t.name}`,
          domain: `${t.name}.example.com`,
          port: 18080,
          caddyPort: caddyPortOpt,
          imageOverrides: new Map(),
          labels: { [TEST_LABEL]: runId },
        });
        const dir = tempDir(`tpl-${t.name}`);
        writeFileSync(join(dir, 'docker-compose.yml'), r.compose);
        writeFileSync(
          join(dir, '.env'),
          Object.entries(r.env)
            .map(([k, v]) => `${k}=${v}`)
            .join('\n'),
          { mode: 0o600 },
        );
        writeFileSync(join(dir, 'site.caddy'), r.caddy);
        const cfg = await run(composeBin, ['-p', `check-${t.name}`, 'config', '--services'], { cwd: dir });
        expect(cfg.stdout.trim().split('\n').sort()).toEqual(t.meta.services.map((s) => s.name).sort());
        const adapted = await run(env.tools.caddy ?? 'caddy', [
          'adapt',
          '--config',
          join(dir, 'site.caddy'),
          '--adapter',
          'caddyfile',
        ]);
        expect(adapted.stdout).toContain(`${t.name}.example.com`);
        expect(adapted.stdout).toContain('127.0.0.1:18080');
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

describe('local images', () => {
  it('a template whose image exists only on the engine provisions, and /pull reports it as local', async () => {
    const site = name('loc');
    const out = await provision(`${site} localonly ${site}.test`);
    expect(out).toContain(`Using the image ${LOCAL_REF} present on local`);
    expect(out).toMatch(/db: up \(healthy\)/);
    expect(out).toMatch(/succeeded, exit 0/);
    const pull = await sf.driver.type(`/pull ${site}`, /op_\w+ (succeeded|failed)/, 120_000);
    expect(pull).toContain(`${LOCAL_REF}: local image, not pulled`);
    expect(pull).toMatch(/busybox:1: image is up to date/);
    expect(pull).toMatch(/op_\w+ succeeded/);
  });
});
