/**
 * Secret masking for a site on an ssh:// host: its `.env` is on that host, so SiteFlow reads it
 * there, over the host's SSH connection (SFTP), and masks its values in `/logs edge/<site>`.
 *
 * edge is the second dockerd behind a real sshd (test/support/ssh-edge.ts). So that the `.env`
 * really is only on edge, sshd runs in a mount namespace of its own where the site's folder is a
 * bind mount of a hidden folder: edge (SFTP, compose over exec) sees the compose file and `.env`
 * there, while this machine, where SiteFlow runs, sees an empty folder at the same path. A site
 * whose `.env` were read on this machine would find none, and the password would show.
 *
 * An edge that stops answering (sshd frozen with SIGSTOP, the connection open) or is gone (sshd
 * stopped) never holds up a command for a local site.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MASK } from '../../../src/core/secret-mask.js';
import { REMOTE_READ_DEADLINE_MS } from '../../../src/runs/site-secrets.js';
import {
  type ComposeProject,
  createComposeProject,
  run,
  runId,
  tempDir,
  testLabels,
  waitFor,
} from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';
import { type SshEdge, startSshEdge } from '../../support/ssh-edge.js';

const env = inject('siteflowTestEnv');
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const siteName = `sft-${runId}-edgesecret`;

let edge: SshEdge;
let sf: TestSiteFlow;
let local: ComposeProject;
/** The site's folder as edge sees it (the bind mount's source); the project folder is `onEdge`. */
let hidden: string;
/** The project folder: the compose file and `.env` there exist only in sshd's mount namespace. */
let onEdge: string;
let work: string;

/** docker-compose for the edge site on the second engine, run inside sshd's mount namespace (as on edge). */
function composeEdge(args: string[]) {
  const sshd = readFileSync(join(edge.sshd.dir, 'sshd.pid'), 'utf8').trim();
  return run(
    'nsenter',
    [
      `--mount=/proc/${sshd}/ns/mnt`,
      env.tools.dockerCompose ?? 'docker-compose',
      ...['-p', siteName, '--project-directory', onEdge, '-f', join(onEdge, 'docker-compose.yml'), ...args],
    ],
    { env: { ...process.env, DOCKER_HOST: edge.engine.dockerHost }, timeoutMs: 180_000 },
  );
}

/** Parent pid of every process (from /proc). */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const e of readdirSync('/proc'))
    if (/^\d+$/.test(e))
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        m.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        // gone meanwhile
      }
  return m;
}

/** sshd's pid and those of all its session processes. */
function sshdPids(): number[] {
  const pids = [Number(readFileSync(join(edge.sshd.dir, 'sshd.pid'), 'utf8').trim())];
  const ppid = parents();
  for (let i = 0; i < pids.length; i++)
    for (const [pid, parent] of ppid) if (parent === pids[i]) pids.push(pid);
  return pids;
}

/** Sends `sig` to each of `pids`; one that has ended meanwhile (a connection's child) is skipped. */
function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids)
    try {
      process.kill(p, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
}

/** `/logs <site>` on the console: its output and how long it took (ms). */
async function logs(site: string): Promise<{ out: string; ms: number }> {
  const t0 = Date.now();
  const out = await sf.driver.type(`/logs ${site} lines:20`, /op_\w+ (succeeded|failed)|No site/, 30_000);
  return { out, ms: Date.now() - t0 };
}

beforeAll(async () => {
  work = tempDir('edgesecret');
  chmodSync(work, 0o755);
  hidden = join(work, 'hidden');
  onEdge = join(work, 'site');
  mkdirSync(hidden, { mode: 0o755 });
  mkdirSync(onEdge, { mode: 0o755 });
  writeFileSync(
    join(hidden, 'docker-compose.yml'),
    JSON.stringify({
      version: '2.4',
      services: {
        web: {
          image: env.images.busybox,
          init: true,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: compose syntax, not JS
          environment: { DB_PASSWORD: '${DB_PASSWORD}' },
          command: ['sh', '-c', 'while true; do echo "edge db=$$DB_PASSWORD"; sleep 1; done'],
          labels: testLabels({ 'siteflow.manage': 'true' }),
        },
      },
      networks: { default: { labels: testLabels() } },
    }),
  );
  writeFileSync(join(hidden, '.env'), `DB_PASSWORD=${PASSWORD}\n`, { mode: 0o600 });
  // sshd in a mount namespace of its own, where `onEdge` shows `hidden`.
  const wrapper = join(work, 'sshd-ns');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec unshare -m --propagation private /bin/sh -c 'mount --bind "$0" "$1" && shift && exec "${env.tools.sshd}" "$@"' '${hidden}' '${onEdge}' "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  edge = await startSshEdge({ ...env, tools: { ...env.tools, sshd: wrapper } });
  for (const p of [hidden, join(hidden, 'docker-compose.yml'), join(hidden, '.env')]) edge.own(p);
  await composeEdge(['up', '-d']);
  local = createComposeProject(
    { name: 'localsec', services: { web: { command: ['sh', '-c', 'echo local-hello; exec sleep 3600'] } } },
    env,
  );
  await local.up();
  edge.isolate();
  sf = await startTestSiteFlow({ ...edge.env(), DOCKER_RETRY_SECONDS: '1' });
}, 300_000);

afterAll(async () => {
  if (edge)
    try {
      signalAll(sshdPids(), 'SIGCONT');
    } catch {
      // sshd not running
    }
  await sf?.stop();
  await local?.down().catch(() => undefined);
  if (edge) await composeEdge(['down', '-v', '--remove-orphans']).catch(() => undefined);
  await edge?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('masking the .env of a site on an ssh:// host (read there over SFTP)', () => {
  it('the .env is only on edge: this machine sees an empty project folder', async () => {
    expect(() => readFileSync(join(onEdge, '.env'))).toThrow(/ENOENT/);
    const labels = await edge.engine.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${siteName}`] },
    });
    expect(labels.map((c) => c.Labels['com.docker.compose.project.working_dir'])).toEqual([onEdge]);
  });

  it('/logs edge/<site> shows the mask, never the password', async () => {
    const status = await sf.driver.type('/status', /site\s+state|No sites/, 30_000);
    expect(status).toContain(`edge/${siteName}`);
    const { out } = await logs(`edge/${siteName}`);
    expect(out).toMatch(/op_\w+ succeeded/);
    expect(out).toContain(`edge db=${MASK}`);
    expect(out).not.toContain(PASSWORD);
    expect(sf.driver.transcript).not.toContain(PASSWORD);
    expect(sf.logLines.join('')).not.toContain(PASSWORD);
  });

  it('edge frozen (sshd stopped with SIGSTOP): /logs of a local site answers promptly', async () => {
    const pids = sshdPids();
    signalAll(pids, 'SIGSTOP');
    try {
      // A local run reads only local .env files (at most edge's read deadline, were it asked)...
      const first = await logs(`local/${local.name}`);
      expect(first.out).toMatch(/local-hello/);
      expect(first.ms).toBeLessThan(REMOTE_READ_DEADLINE_MS + 2_000);
      // ...and so does the next one.
      const second = await logs(`local/${local.name}`);
      expect(second.out).toMatch(/local-hello/);
      expect(second.ms).toBeLessThan(1_500);
    } finally {
      signalAll(pids, 'SIGCONT');
    }
  });

  it('sshd stopped: /logs of a local site answers promptly; edge’s password stays masked after', async () => {
    await edge.sshd.pause();
    try {
      const down = await logs(`local/${local.name}`);
      expect(down.out).toMatch(/local-hello/);
      expect(down.ms).toBeLessThan(5_000);
    } finally {
      await edge.sshd.resume();
    }
    await waitFor(
      'edge answers again',
      async () => {
        await sf.app.services.hosts.get('edge')?.ping();
        return true;
      },
      60_000,
    );
    const { out } = await logs(`edge/${siteName}`);
    expect(out).toContain(`edge db=${MASK}`);
    expect(sf.driver.transcript).not.toContain(PASSWORD);
    expect(sf.logLines.join('')).not.toContain(PASSWORD);
  });
});
