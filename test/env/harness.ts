/**
 * Test harness for the real test environment set up by test/env/setup.sh: the run id and labels that
 * mark everything a test run creates, a dockerode client for the test engine, cleanup of this run's
 * objects and of crashed runs' objects, compose projects, and private sshd / caddy instances on free
 * loopback ports. Everything here touches only objects labelled `siteflow.test=<runId>` (Docker) or
 * named after a run id (users `sft-<pid>-<n>`, temp dirs `siteflow-env-<runId>-*`, registry repos
 * `siteflow-test/run-<runId>/*`).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { SiteFlowError } from '../../src/core/errors.js';

/** What setup.sh writes to .test-env/state.json. */
export interface TestEnvState {
  version: number;
  updatedAt: string;
  stateDir: string;
  /** DOCKER_HOST form: `unix:///var/run/docker.sock` or `tcp://127.0.0.1:PORT`. */
  dockerHost: string;
  /** The engine's unix socket path, or null for a tcp engine. */
  dockerSocketPath: string | null;
  /** Registry address, `127.0.0.1:PORT` (an insecure registry on loopback). */
  registry: string;
  registryUrl: string;
  images: {
    /** Local busybox image, `siteflow-test/busybox:1`. */
    busybox: string;
    /** The same image in the test registry, `127.0.0.1:PORT/siteflow-test/busybox:1`. */
    registryBusybox: string;
  };
  tools: {
    docker: string | null;
    dockerCompose: string | null;
    caddy: string | null;
    sshd: string;
    sshKeygen: string | null;
    chromium: string | null;
  };
  started: Record<string, { pid: number | null; log: string; running: boolean }>;
}

/** The facts globalSetup provides to tests (`inject('siteflowTestEnv')`). */
export interface TestEnvFacts extends TestEnvState {
  runId: string;
  statePath: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    siteflowTestEnv: TestEnvFacts;
  }
}

/** The repository root. */
export const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The Docker label key that marks every object a test run creates. */
export const TEST_LABEL = 'siteflow.test';

/**
 * This test run's id, `<pid>-<epochMs>` of the vitest main process (globalSetup exports it as
 * SITEFLOW_TEST_RUN_ID so that workers share it). While that pid lives, the run is alive.
 */
export const runId: string = process.env.SITEFLOW_TEST_RUN_ID ?? `${process.pid}-${Date.now()}`;

/** Labels to put on every container, network, volume and image a test creates. */
export function testLabels(extra: Record<string, string> = {}): Record<string, string> {
  return { [TEST_LABEL]: runId, ...extra };
}

/** The state dir of setup.sh. */
export function stateDir(): string {
  return process.env.SITEFLOW_TEST_ENV_DIR ?? path.join(REPO_DIR, '.test-env');
}

/** Path of the state file written by setup.sh. */
export function statePath(): string {
  return process.env.SITEFLOW_TEST_ENV_STATE ?? path.join(stateDir(), 'state.json');
}

/** Reads the state written by setup.sh; throws when setup has not run. */
export function loadTestEnv(file: string = statePath()): TestEnvState {
  if (!existsSync(file)) {
    throw new SiteFlowError(
      'RUN_TEST_ENV',
      `no test environment state at ${file}; run bash test/env/setup.sh`,
    );
  }
  return JSON.parse(readFileSync(file, 'utf8')) as TestEnvState;
}

/** dockerode options for a DOCKER_HOST value (unix socket or loopback tcp only). */
export function dockerOptionsFor(dockerHost: string): Docker.DockerOptions {
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const m = /^tcp:\/\/(127\.[0-9.]+|localhost|\[::1\]):(\d+)\/?$/.exec(dockerHost);
  if (m) return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), protocol: 'http' };
  throw new SiteFlowError(
    'RUN_TEST_ENV',
    `unsupported test DOCKER_HOST ${dockerHost} (unix or loopback tcp only)`,
  );
}

/** A dockerode client for the test engine. */
export function testDocker(env: TestEnvState = loadTestEnv()): Docker {
  return new Docker(dockerOptionsFor(env.dockerHost));
}

// ------------------------------------------------------------------ small process helpers

/** Output of a finished child process. */
export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a program with an argument array (no shell); rejects with its output on failure. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) {
          const tail = `${stderr}\n${stdout}`.trim().split('\n').slice(-15).join('\n');
          reject(
            new SiteFlowError(
              'RUN_TEST_ENV',
              `${cmd} ${args.join(' ')} failed: ${err.message}\n${tail}`,
              {},
              { cause: err },
            ),
          );
        } else resolve({ stdout, stderr });
      },
    );
  });
}

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** How {@link waitFor} looks again. */
export interface WaitForOptions {
  /** Pause between looks (default 100 ms). */
  intervalMs?: number;
  /**
   * Looks again as soon as `notify` is called (e.g. on new output) instead of only after the
   * pause; returns the unsubscribe.
   */
  wake?: (notify: () => void) => () => void;
}

/**
 * The one polling helper of the tests: looks at `check` until it returns a truthy value (which
 * is returned); a check that throws counts as "not yet". Throws after `timeoutMs`, naming `what`
 * and the last error. Tests wait on conditions with it (and on the monitor's settled signal),
 * never on fixed sleeps.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  opts: WaitForOptions = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  let wakeUp: (() => void) | null = null;
  let woke = false;
  const unsubscribe = opts.wake?.(() => {
    woke = true;
    wakeUp?.();
  });
  try {
    for (;;) {
      woke = false;
      try {
        const value = await check();
        if (value) return value;
      } catch (e) {
        last = e; // not yet
      }
      const left = end - Date.now();
      if (left <= 0)
        throw new SiteFlowError(
          'RUN_TEST_ENV',
          `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String((last as Error).message ?? last)})` : ''}`,
        );
      if (woke) continue; // something changed while looking: look again now
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, opts.intervalMs ?? 100));
        wakeUp = () => {
          clearTimeout(t);
          r();
        };
      });
      wakeUp = null;
    }
  } finally {
    unsubscribe?.();
  }
}

/**
 * SIGKILLs a container through the engine API and returns when it died: the engine answers a
 * SIGKILL only once the container has exited (its `die` event is out by then). Alert latency is
 * measured from this moment, so a slow `docker` CLI start on a loaded machine is not counted.
 */
export async function killContainer(docker: Docker, id: string): Promise<number> {
  await docker.getContainer(id).kill({ signal: 'SIGKILL' });
  return Date.now();
}

let tempCounter = 0;
/** A fresh temp dir named after this run (`siteflow-env-<runId>-<kind>-*`), removed by cleanupStale if the run dies. */
export function tempDir(kind: string): string {
  tempCounter += 1;
  return mkdtempSync(path.join(os.tmpdir(), `siteflow-env-${runId}-${kind}${tempCounter}-`));
}

// ------------------------------------------------------------------ run ids and liveness

/** Splits a run id `<pid>-<epochMs>`; null for anything else. */
export function parseRunId(id: string): { pid: number; startedAt: number } | null {
  const m = /^(\d+)-(\d+)$/.exec(id);
  if (!m) return null;
  return { pid: Number(m[1]), startedAt: Number(m[2]) };
}

function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the run that owns `id` may still be running. Conservative: ids that do not parse count as
 * alive (never touched), and a live pid counts as alive even if it was reused. Assumes every run that
 * shares the engine runs in this pid namespace (true for this machine and its CI).
 */
export function isRunAlive(id: string): boolean {
  const parsed = parseRunId(id);
  if (!parsed) return true;
  return pidAlive(parsed.pid);
}

// ------------------------------------------------------------------ cleanup

/** What a cleanup removed. */
export interface CleanupReport {
  containers: number;
  networks: number;
  volumes: number;
  images: number;
  registryManifests: number;
}

function ignoreMissing(err: unknown): void {
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 404) return;
  throw err;
}

/**
 * A network the engine still counts an endpoint on after its last container is gone (a
 * dockerd 20.10 bookkeeping race when containers restart while the project goes down): it
 * cannot be removed until the engine restarts. Left in place with a warning rather than
 * failing every later run's clean-up.
 */
function ignoreMissingOrStuckNetwork(name: string) {
  return (err: unknown): void => {
    const e = err as { statusCode?: number; json?: { message?: string } };
    if (e.statusCode === 404) return;
    if (e.statusCode === 403 && /has active endpoints/.test(e.json?.message ?? '')) {
      console.error(
        `[test-env] network ${name} is stuck in the engine (stale endpoint count); left for an engine restart`,
      );
      return;
    }
    throw err;
  };
}

function ignoreMissingOrInUse(err: unknown): void {
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 404 || status === 409) return;
  throw err;
}

/** The registry repository prefix of a run: `siteflow-test/run-<runId>`. */
export function registryRunPrefix(id: string = runId): string {
  return `siteflow-test/run-${id}`;
}

/** A registry image reference private to this run: `<registry>/siteflow-test/run-<runId>/<name>`. */
export function registryRunImage(name: string, env: TestEnvState = loadTestEnv()): string {
  return `${env.registry}/${registryRunPrefix()}/${name}`;
}

const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** The manifest digest the registry holds for `repo:tag`, or null. */
export async function registryDigest(registry: string, repo: string, tag: string): Promise<string | null> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT },
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new SiteFlowError('RUN_TEST_ENV', `registry HEAD ${repo}:${tag}: HTTP ${res.status}`);
  return res.headers.get('docker-content-digest');
}

async function registryRepos(registry: string): Promise<string[]> {
  const all: string[] = [];
  let last = '';
  for (;;) {
    const res = await fetch(
      `http://${registry}/v2/_catalog?n=1000${last ? `&last=${encodeURIComponent(last)}` : ''}`,
    );
    if (!res.ok) return all;
    const page = ((await res.json()) as { repositories?: string[] }).repositories ?? [];
    all.push(...page);
    if (page.length < 1000) return all;
    last = page[page.length - 1]!;
  }
}

/** Deletes the manifests of every tag in the registry repos of run `id`. */
async function cleanupRegistryRun(registry: string, id: string, repos?: string[]): Promise<number> {
  const prefix = `${registryRunPrefix(id)}/`;
  let removed = 0;
  for (const repo of (repos ?? (await registryRepos(registry))).filter((r) => r.startsWith(prefix))) {
    const tagsRes = await fetch(`http://${registry}/v2/${repo}/tags/list`);
    if (!tagsRes.ok) continue;
    const tags = ((await tagsRes.json()) as { tags?: string[] | null }).tags ?? [];
    for (const tag of tags) {
      const digest = await registryDigest(registry, repo, tag);
      if (!digest) continue;
      const del = await fetch(`http://${registry}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' });
      if (del.ok || del.status === 404) removed += 1;
    }
  }
  return removed;
}

async function safeLoadEnv(): Promise<TestEnvState | null> {
  try {
    return loadTestEnv();
  } catch {
    return null;
  }
}

/**
 * Removes the containers, networks, volumes and images labelled `siteflow.test=<id>` (and the run's
 * registry tags). Never touches anything without that exact label.
 */
export async function cleanupRun(id: string = runId, docker?: Docker): Promise<CleanupReport> {
  if (!parseRunId(id)) throw new SiteFlowError('RUN_TEST_ENV', `not a test run id: ${JSON.stringify(id)}`);
  const env = await safeLoadEnv();
  const client = docker ?? testDocker(env ?? undefined);
  const filters = { label: [`${TEST_LABEL}=${id}`] };
  const report: CleanupReport = { containers: 0, networks: 0, volumes: 0, images: 0, registryManifests: 0 };

  for (const c of await client.listContainers({ all: true, filters })) {
    await client
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .then(() => report.containers++, ignoreMissing);
  }
  for (const n of await client.listNetworks({ filters })) {
    // 403 "has active endpoints": an endpoint the engine still holds (its container is gone);
    // left for a later cleanup instead of failing the whole run.
    await client
      .getNetwork(n.Id)
      .remove()
      .then(() => report.networks++, ignoreMissingOrStuckNetwork(n.Name));
  }
  for (const v of (await client.listVolumes({ filters })).Volumes ?? []) {
    await client
      .getVolume(v.Name)
      .remove()
      .then(() => report.volumes++, ignoreMissing);
  }
  for (const img of await client.listImages({ filters })) {
    await client
      .getImage(img.Id)
      .remove({ force: true })
      .then(() => report.images++, ignoreMissing);
  }
  // Tags and digest references into this run's registry repos (e.g. a re-tagged base image): untag only.
  const runRef = `/${registryRunPrefix(id)}/`;
  for (const img of await client.listImages({ digests: true })) {
    for (const ref of [...(img.RepoTags ?? []), ...(img.RepoDigests ?? [])]) {
      if (!ref.includes(runRef)) continue;
      await client
        .getImage(ref)
        .remove()
        .then(() => report.images++, ignoreMissingOrInUse);
    }
  }
  for (const entry of readdirSync(os.tmpdir())) {
    if (entry.startsWith(`siteflow-env-${id}-`))
      rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
  if (env) {
    report.registryManifests = await cleanupRegistryRun(env.registry, id).catch(() => 0);
  }
  return report;
}

/** Users made by startSshd: `sft-<pid>-<n>`. */
const USER_RE = /^sft-(\d+)-\d+$/;
const TEMP_RE = /^siteflow-env-(\d+-\d+)-/;

/**
 * Removes everything left behind by crashed runs: Docker objects labelled `siteflow.test=<id>` whose
 * run pid is dead, their registry tags, their sshd/caddy processes, temp dirs and test users.
 * Returns the dead run ids it cleaned.
 */
export async function cleanupStale(docker?: Docker): Promise<string[]> {
  const env = await safeLoadEnv();
  const client = docker ?? testDocker(env ?? undefined);
  const filters = { label: [TEST_LABEL] };
  const ids = new Set<string>();
  const add = (labels: Record<string, string> | null | undefined) => {
    const v = labels?.[TEST_LABEL];
    if (v) ids.add(v);
  };
  for (const c of await client.listContainers({ all: true, filters })) add(c.Labels);
  for (const n of await client.listNetworks({ filters })) add(n.Labels);
  for (const v of (await client.listVolumes({ filters })).Volumes ?? []) add(v.Labels);
  for (const i of await client.listImages({ filters })) add(i.Labels);
  for (const i of await client.listImages({ digests: true })) {
    for (const ref of [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])]) {
      const m = /\/siteflow-test\/run-(\d+-\d+)\//.exec(ref);
      if (m) ids.add(m[1]!);
    }
  }

  let repos: string[] = [];
  if (env) {
    repos = await registryRepos(env.registry).catch(() => []);
    for (const r of repos) {
      const m = /^siteflow-test\/run-(\d+-\d+)\//.exec(r);
      if (!m || ids.has(m[1]!) || isRunAlive(m[1]!)) continue;
      // Deleted repos stay in the catalog with no tags: only repos that still hold tags matter.
      const tags = await fetch(`http://${env.registry}/v2/${r}/tags/list`)
        .then(async (res) => (res.ok ? ((await res.json()) as { tags?: string[] | null }).tags : null))
        .catch(() => null);
      if (tags?.length) ids.add(m[1]!);
    }
  }

  const dead = [...ids].filter((id) => id !== runId && parseRunId(id) && !isRunAlive(id));
  for (const id of dead) {
    // Another run may be clearing the same leftovers right now (its removals race ours): a
    // failure here is reported and left for the next run, never fatal to this one.
    await cleanupRun(id, client).catch((e) =>
      console.error(
        `[test-env] leftovers of ${id} not all removed: ${e instanceof Error ? e.message : String(e)}`,
      ),
    );
    if (env) await cleanupRegistryRun(env.registry, id, repos).catch(() => 0);
  }

  cleanupStaleHostLeftovers();
  return dead;
}

/** Kills sshd/caddy processes of dead runs, removes their temp dirs and users. */
function cleanupStaleHostLeftovers(): void {
  const deadRun = (id: string) => id !== runId && parseRunId(id) !== null && !isRunAlive(id);
  // Processes whose command line names a dead run's temp dir.
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const args = cmdline.split('\0');
    const exe = path.basename(args[0] ?? '');
    if (exe !== 'sshd' && exe !== 'caddy') continue;
    const m = /siteflow-env-(\d+-\d+)-/.exec(cmdline);
    if (m && deadRun(m[1]!)) {
      try {
        process.kill(Number(entry), 'SIGTERM');
      } catch {
        // gone
      }
    }
  }
  for (const entry of readdirSync(os.tmpdir())) {
    const m = TEMP_RE.exec(entry);
    if (m && deadRun(m[1]!)) rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
  if (process.getuid?.() === 0 && existsSync('/etc/passwd')) {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const name = line.split(':')[0] ?? '';
      const m = USER_RE.exec(name);
      if (m && !pidAlive(Number(m[1]))) spawnSync('userdel', ['-f', '-r', name], { stdio: 'ignore' });
    }
  }
}

// ------------------------------------------------------------------ children killed on exit

const liveChildren = new Set<{ child: ChildProcess; user?: string; dir: string }>();
let exitHookInstalled = false;
function track(entry: { child: ChildProcess; user?: string; dir: string }): void {
  liveChildren.add(entry);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const e of liveChildren) {
      e.child.kill('SIGKILL');
      if (e.user) spawnSync('userdel', ['-f', '-r', e.user], { stdio: 'ignore' });
      rmSync(e.dir, { recursive: true, force: true });
    }
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function spawnLogged(cmd: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once('exit', () => setTimeout(() => log.end(), 50));
  return child;
}

function logTail(logPath: string): string {
  try {
    return readFileSync(logPath, 'utf8').trim().split('\n').slice(-10).join('\n');
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------ compose projects

/**
 * A service in a test compose project. The image defaults to the test busybox image and `init` to true
 * (docker-init as PID 1, so `sleep`/`httpd` stop on SIGTERM at once); every service gets testLabels().
 */
export interface ComposeServiceSpec {
  image?: string;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  labels?: Record<string, string>;
  networks?: string[];
  [key: string]: unknown;
}

/** Options of createComposeProject. */
export interface ComposeProjectOptions {
  /** Suffix of the project name (default: a counter); the name is `sft-<runId>-<suffix>`. */
  name?: string;
  services: Record<string, ComposeServiceSpec>;
  /** Named volumes to declare (each labelled). */
  volumes?: string[];
  /** Extra named networks to declare (each labelled; `default` is always declared and labelled). */
  networks?: string[];
  /**
   * Label every service `siteflow.manage=true` (default true): the project lives in a temp dir,
   * outside any SITES_ROOT, so without the label SiteFlow does not manage it.
   */
  manage?: boolean;
}

/** A compose project on disk, driven by docker-compose (v1) with argument arrays. */
export interface ComposeProject {
  name: string;
  dir: string;
  file: string;
  /** The compose file content as written (JSON is valid YAML). */
  spec: Record<string, unknown>;
  /** Runs `docker-compose -p NAME -f FILE ...args`. */
  compose(args: string[]): Promise<ExecResult>;
  up(): Promise<ExecResult>;
  down(): Promise<ExecResult>;
  /**
   * Removes the project's containers by force, then `down`: for containers still busy inside
   * the engine (a cancelled restart goes on there), which would keep the network in use.
   */
  forceDown(): Promise<ExecResult>;
}

let composeCounter = 0;
/** Writes a labelled docker-compose.yml in a fresh temp dir (no containers are started). */
export function createComposeProject(
  opts: ComposeProjectOptions,
  env: TestEnvState = loadTestEnv(),
): ComposeProject {
  composeCounter += 1;
  const suffix = (opts.name ?? String(composeCounter)).toLowerCase().replace(/[^a-z0-9_-]/g, '');
  const name = `sft-${runId}-${suffix}`;
  const dir = tempDir('compose');
  const file = path.join(dir, 'docker-compose.yml');
  const labels = testLabels();
  const services: Record<string, unknown> = {};
  for (const [svc, spec] of Object.entries(opts.services)) {
    services[svc] = {
      init: true,
      ...spec,
      image: spec.image ?? env.images.busybox,
      labels: { ...labels, ...(opts.manage === false ? {} : { 'siteflow.manage': 'true' }), ...spec.labels },
    };
  }
  const networks: Record<string, unknown> = { default: { labels } };
  for (const n of opts.networks ?? []) networks[n] = { labels };
  const volumes: Record<string, unknown> = {};
  for (const v of opts.volumes ?? []) volumes[v] = { labels };
  const spec: Record<string, unknown> = { version: '2.4', services, networks };
  if (opts.volumes?.length) spec.volumes = volumes;
  writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);

  const composeBin = env.tools.dockerCompose ?? 'docker-compose';
  const childEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
  const compose = (args: string[]) =>
    run(composeBin, ['-p', name, '-f', file, ...args], { cwd: dir, env: childEnv, timeoutMs: 180_000 });
  return {
    name,
    dir,
    file,
    spec,
    compose,
    up: () => compose(['up', '-d']),
    down: () => compose(['down', '-v', '--remove-orphans']),
    async forceDown() {
      const docker = testDocker(env);
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`com.docker.compose.project=${name}`, `${TEST_LABEL}=${runId}`] },
      });
      for (const c of left)
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      return compose(['down', '-v', '--remove-orphans']);
    },
  };
}

// ------------------------------------------------------------------ sshd

/** A private sshd on 127.0.0.1 for one test user. */
export interface SshdHandle {
  host: '127.0.0.1';
  port: number;
  user: string;
  homeDir: string;
  privateKeyPath: string;
  publicKey: string;
  /** `SHA256:<base64>` exactly as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** The host public key line (`ssh-ed25519 AAAA... comment`). */
  hostPublicKey: string;
  dir: string;
  logPath: string;
  /** Stops sshd (open connections drop), keeping its user, keys and port for resume(). */
  pause(): Promise<void>;
  /** Starts sshd again on the same port with the same host key. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

let userCounter = 0;

/**
 * Starts `sshd -D` on a free 127.0.0.1 port with a fresh ed25519 host key, a fresh user (useradd) that
 * logs in with a fresh ed25519 key, and SFTP (internal-sftp). Needs root.
 */
export async function startSshd(
  env: TestEnvState = loadTestEnv(),
  opts: {
    /** More sshd_config lines (e.g. `SetEnv DOCKER_HOST=...` for the docker CLI of a bench baseline). */
    extraConfig?: string[];
    /** sshd's LogLevel (default INFO); DEBUG1 logs each port forward it opens. */
    logLevel?: 'INFO' | 'DEBUG1';
  } = {},
): Promise<SshdHandle> {
  if (process.getuid?.() !== 0)
    throw new SiteFlowError('RUN_TEST_ENV', 'startSshd needs root (useradd, sshd)');
  const keygen = env.tools.sshKeygen ?? 'ssh-keygen';
  const dir = tempDir('sshd');
  chmodSync(dir, 0o755);
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'client_ed25519');
  await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'siteflow-test-host', '-f', hostKey]);
  await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'siteflow-test-client', '-f', clientKey]);
  const fp = (await run(keygen, ['-lf', `${hostKey}.pub`])).stdout.trim().split(/\s+/)[1] ?? '';

  userCounter += 1;
  const user = `sft-${process.pid}-${userCounter}`;
  const homeDir = path.join(dir, 'home');
  await run('useradd', ['-m', '-d', homeDir, '-s', '/bin/sh', '-p', '*', user]);
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  const gid = Number((await run('id', ['-g', user])).stdout.trim());
  const sshDir = path.join(homeDir, '.ssh');
  mkdirSync(sshDir, { mode: 0o700, recursive: true });
  copyFileSync(`${clientKey}.pub`, path.join(sshDir, 'authorized_keys'));
  chmodSync(path.join(sshDir, 'authorized_keys'), 0o600);
  chownSync(sshDir, uid, gid);
  chownSync(path.join(sshDir, 'authorized_keys'), uid, gid);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const logPath = path.join(dir, 'sshd.log');
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        'AuthorizedKeysFile .ssh/authorized_keys',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin no',
        'UsePAM no',
        'StrictModes no',
        `AllowUsers ${user}`,
        'Subsystem sftp internal-sftp',
        `LogLevel ${opts.logLevel ?? 'INFO'}`,
        ...(opts.extraConfig ?? []),
        '',
      ].join('\n'),
    );
    let child = spawnLogged(env.tools.sshd, ['-D', '-e', '-f', config], logPath);
    const entry = { child, user, dir };
    track(entry);
    const listening = () =>
      waitFor(
        `sshd on 127.0.0.1:${port}`,
        async () => {
          if (child.exitCode !== null) throw new SiteFlowError('RUN_TEST_ENV', 'sshd exited');
          return await sshBanner(port);
        },
        15_000,
      );
    try {
      await listening();
    } catch {
      lastErr = logTail(logPath);
      await stopChild(child);
      liveChildren.delete(entry);
      continue;
    }
    return {
      host: '127.0.0.1',
      port,
      user,
      homeDir,
      privateKeyPath: clientKey,
      publicKey: readFileSync(`${clientKey}.pub`, 'utf8').trim(),
      hostKeyFingerprint: fp,
      hostPublicKey: readFileSync(`${hostKey}.pub`, 'utf8').trim(),
      dir,
      logPath,
      async pause() {
        // sshd -D forks one process per connection: end those too (by pid), or connections stay up.
        const pid = child.pid;
        if (pid !== undefined) for (const c of descendantPids(pid)) killQuietly(c);
        await stopChild(child);
      },
      async resume() {
        child = spawnLogged(env.tools.sshd, ['-D', '-e', '-f', config], logPath);
        entry.child = child;
        await listening();
      },
      async stop() {
        await stopChild(child);
        liveChildren.delete(entry);
        spawnSync('userdel', ['-f', '-r', user], { stdio: 'ignore' });
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  spawnSync('userdel', ['-f', '-r', user], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
  throw new SiteFlowError('RUN_TEST_ENV', `sshd did not start: ${lastErr}`);
}

/**
 * Every descendant of `pid` (from /proc), children first: an sshd connection is a privileged
 * monitor with the user's process under it, and both hold the TCP connection.
 */
function descendantPids(pid: number): number[] {
  const children = childPids(pid);
  return children.flatMap((c) => [c, ...descendantPids(c)]);
}

/** Pids whose parent is `pid` (from /proc). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces: the ppid follows the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** True when an SSH server banner arrives from 127.0.0.1:port. */
function sshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2_000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('data', (d) => done(d.toString('latin1').startsWith('SSH-2.0')));
  });
}

// ------------------------------------------------------------------ caddy

/** A private `caddy run` whose Caddyfile imports `sites/*.caddy`. */
export interface CaddyHandle {
  adminPort: number;
  /** `127.0.0.1:ADMINPORT` */
  adminAddress: string;
  dir: string;
  caddyfile: string;
  sitesDir: string;
  logPath: string;
  /** Writes `sites/<name>.caddy` (does not reload). */
  writeSite(name: string, content: string): string;
  /** `caddy reload --config CADDYFILE --adapter caddyfile --address 127.0.0.1:ADMINPORT`. */
  reload(): Promise<ExecResult>;
  stop(): Promise<void>;
}

/**
 * Starts caddy with `{ admin 127.0.0.1:PORT  auto_https off  default_bind 127.0.0.1 }` and
 * `import <dir>/sites/*.caddy`; HOME and XDG dirs point into its temp dir. `tlsInternal`:
 * `auto_https disable_redirects` instead, so `tls internal` sites get certificates from
 * Caddy's local CA (root at `<dir>/data/caddy/pki/authorities/local/root.crt`). Always with
 * `skip_install_trust`: a test's CA never goes into the machine's trust store.
 */
export async function startCaddy(
  env: TestEnvState = loadTestEnv(),
  opts: { tlsInternal?: boolean } = {},
): Promise<CaddyHandle> {
  const caddyBin = env.tools.caddy ?? 'caddy';
  const dir = tempDir('caddy');
  const sitesDir = path.join(dir, 'sites');
  mkdirSync(sitesDir);
  const caddyfile = path.join(dir, 'Caddyfile');
  const logPath = path.join(dir, 'caddy.log');
  const childEnv = {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  };
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const adminPort = await freePort();
    const adminAddress = `127.0.0.1:${adminPort}`;
    writeFileSync(
      caddyfile,
      `{\n\tadmin ${adminAddress}\n\tauto_https ${opts.tlsInternal ? 'disable_redirects' : 'off'}\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n}\n\nimport ${path.join(sitesDir, '*.caddy')}\n`,
    );
    const child = spawnLogged(
      caddyBin,
      ['run', '--config', caddyfile, '--adapter', 'caddyfile'],
      logPath,
      childEnv,
    );
    const entry = { child, dir };
    track(entry);
    try {
      await waitFor(
        `caddy admin on ${adminAddress}`,
        async () => {
          if (child.exitCode !== null) throw new SiteFlowError('RUN_TEST_ENV', 'caddy exited');
          return (await fetch(`http://${adminAddress}/config/`)).ok;
        },
        15_000,
      );
    } catch {
      lastErr = logTail(logPath);
      await stopChild(child);
      liveChildren.delete(entry);
      continue;
    }
    return {
      adminPort,
      adminAddress,
      dir,
      caddyfile,
      sitesDir,
      logPath,
      writeSite(name, content) {
        const file = path.join(sitesDir, `${name}.caddy`);
        writeFileSync(file, content.endsWith('\n') ? content : `${content}\n`);
        return file;
      },
      reload: () =>
        run(
          caddyBin,
          ['reload', '--config', caddyfile, '--adapter', 'caddyfile', '--address', adminAddress],
          {
            env: childEnv,
            timeoutMs: 30_000,
          },
        ),
      async stop() {
        await stopChild(child);
        liveChildren.delete(entry);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new SiteFlowError('RUN_TEST_ENV', `caddy did not start: ${lastErr}`);
}
