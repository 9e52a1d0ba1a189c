/**
 * A remote Docker host over SSH for real: a second dockerd whose socket only the sshd test user's
 * group can open, reached by SiteFlow only through a real sshd on loopback (ssh2, one connection,
 * the pinned host key). SiteFlow runs with an empty HOME and an `ssh` on PATH that records any
 * call: no system ssh and no known_hosts may be consulted.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ComposeProject,
  createComposeProject,
  run,
  type SshdHandle,
  startSshd,
} from '../../env/harness.js';
import { type SecondEngine, startSecondEngine } from '../../env/second-engine.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');

let sshd: SshdHandle;
let e2: SecondEngine;
let site: ComposeProject;
let sf: TestSiteFlow;
let home: string;
let bin: string;
const saved = { HOME: process.env.HOME, PATH: process.env.PATH };

/** The configuration that names edge over SSH, with `pin` as its pinned host key. */
function edgeEnv(pin: string): Record<string, string> {
  return {
    DOCKER_HOSTS: `local=${env.dockerHost},edge=ssh://${sshd.user}@127.0.0.1:${sshd.port}?socket=${e2.socketPath}`,
    DOCKER_SSH_HOST_KEYS: `edge=${pin}`,
    DOCKER_SSH_KEY_PATH: sshd.privateKeyPath,
    DOCKER_RETRY_SECONDS: '1',
    ALERT_HOST_DOWN_AFTER_SECONDS: '2',
    ALERT_RECOVER_AFTER_SECONDS: '1',
  };
}

async function startedAt(): Promise<string[]> {
  const list = await e2.docker.listContainers({
    filters: { label: [`com.docker.compose.project=${site.name}`] },
  });
  return Promise.all(list.map(async (c) => (await e2.docker.getContainer(c.Id).inspect()).State.StartedAt));
}

/** sshd log lines of logins accepted since `from` (characters into the log). */
function acceptedSince(from: number): string[] {
  return readFileSync(sshd.logPath, 'utf8')
    .slice(from)
    .split('\n')
    .filter((l) => l.includes('Accepted publickey'));
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'sf-ssh-home-'));
  bin = mkdtempSync(join(tmpdir(), 'sf-ssh-bin-'));
  writeFileSync(join(bin, 'ssh'), `#!/bin/sh\necho "$@" >> ${join(bin, 'ssh-called')}\nexit 255\n`);
  chmodSync(join(bin, 'ssh'), 0o755);
  sshd = await startSshd(env);
  e2 = await startSecondEngine(env, { socketGroup: sshd.user });
  site = createComposeProject(
    {
      name: 'edgeweb',
      services: {
        web: { command: ['sh', '-c', 'echo edge-hello-$$HOSTNAME; exec sleep 3600'], restart: 'always' },
        worker: { command: ['sleep', '3600'], restart: 'always' },
      },
    },
    { ...env, dockerHost: e2.dockerHost },
  );
  await site.up();
  process.env.HOME = home;
  process.env.PATH = `${bin}:${saved.PATH}`;
  sf = await startTestSiteFlow(edgeEnv(sshd.hostKeyFingerprint));
}, 300_000);

afterAll(async () => {
  await sf?.stop();
  process.env.HOME = saved.HOME;
  process.env.PATH = saved.PATH;
  await site?.down().catch(() => undefined);
  await e2?.stop();
  await sshd?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(bin, { recursive: true, force: true });
});

describe('a Docker host over SSH (second dockerd behind a real sshd)', () => {
  it('has no direct way to the engine: the socket is the ssh user group’s', async () => {
    const r = await run('stat', ['-c', '%G', e2.socketPath]);
    expect(r.stdout.trim()).toBe(sshd.user);
    const edge = (edgeEnv('x').DOCKER_HOSTS ?? '').split(',').find((h) => h.startsWith('edge='));
    expect(edge).toMatch(/^edge=ssh:\/\//);
  });

  it('/status lists edge/<site>; /restart edge/<site> restarts it; /logs edge/<site> shows its lines', async () => {
    const status = await sf.driver.type('/status', /site\s+state|No sites/, 30_000);
    expect(status).toContain(`edge/${site.name}`);
    expect(status).not.toMatch(/edge: not reachable/);

    const before = await startedAt();
    expect(before).toHaveLength(2);
    const out = await sf.driver.type(`/restart edge/${site.name}`, /op_\w+ (succeeded|failed)/, 90_000);
    expect(out).toMatch(/Restarting 2 containers on edge/);
    expect(out).toMatch(/op_\w+ succeeded/);
    const after = await startedAt();
    for (const t of after) expect(before).not.toContain(t);

    const logs = await sf.driver.type(
      `/logs edge/${site.name} web lines:5`,
      /op_\w+ (succeeded|failed)/,
      30_000,
    );
    expect(logs).toMatch(/edge-hello-/);
  });

  it('sshd stopped: one host-unreachable incident, edge commands answer at once, then it works again', async () => {
    const from = sf.driver.transcript.length;
    await sshd.pause();
    await sf.driver.waitFor(/(ALERT|✎ al_\w+:) 🔴 Host edge is unreachable/, from, 60_000).catch((e) => {
      console.log(
        sf.logLines
          .filter((l) => l.includes('edge'))
          .slice(-30)
          .join(''),
      );
      console.log(sf.driver.transcript.slice(from));
      throw e;
    });

    const t0 = Date.now();
    const refused = await sf.driver.type(
      `/restart edge/${site.name}`,
      /unreachable|not reachable|No site/,
      10_000,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(refused).toMatch(/edge/);
    const status = await sf.driver.type('/status', /site\s+state|No sites/, 15_000);
    expect(status).toMatch(/edge: not reachable \(host edge: host unreachable/);

    await sshd.resume();
    await sf.driver.waitFor(/Host edge answers again/, from, 60_000);
    const part = sf.driver.transcript.slice(from);
    const alerts = part
      .split('\n')
      .filter((l) => l.startsWith('» ALERT') && l.includes('Host edge is unreachable'));
    expect(alerts).toHaveLength(1);

    const again = await sf.driver.type(`/restart edge/${site.name}`, /op_\w+ (succeeded|failed)/, 90_000);
    expect(again).toMatch(/op_\w+ succeeded/);
  });

  it('a changed host key: edge is refused with "host key changed" and nothing runs there', async () => {
    // Another key's fingerprint stands for the pin of the key edge had before it changed.
    const other = join(home, 'other_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const oldPin = (await run('ssh-keygen', ['-lf', `${other}.pub`])).stdout.split(/\s+/)[1]!;
    rmSync(other, { force: true });
    rmSync(`${other}.pub`, { force: true });
    const logFrom = readFileSync(sshd.logPath, 'utf8').length;
    const before = await startedAt();
    const changed = await startTestSiteFlow(edgeEnv(oldPin));
    try {
      const status = await changed.driver.type('/status', /site\s+state|No sites/, 30_000);
      expect(status).toMatch(/edge: not reachable \(host edge: host key changed: .* presented SHA256:/);
      expect(status).toContain(sshd.hostKeyFingerprint);
      expect(status).not.toContain(`edge/${site.name}`);
      const refused = await changed.driver.type(
        `/restart edge/${site.name}`,
        /host key changed|No site/,
        15_000,
      );
      expect(refused).toMatch(/host key changed|not reachable: edge/);
    } finally {
      await changed.stop();
    }
    expect(acceptedSince(logFrom)).toEqual([]);
    expect(await startedAt()).toEqual(before);
  });

  it('a key edge does not accept: "authentication failed", nothing runs there', async () => {
    const wrong = join(home, 'wrong_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const logFrom = readFileSync(sshd.logPath, 'utf8').length;
    const refused = await startTestSiteFlow({
      ...edgeEnv(sshd.hostKeyFingerprint),
      DOCKER_SSH_KEY_PATH: wrong,
    });
    try {
      const status = await refused.driver.type('/status', /site\s+state|No sites/, 30_000);
      expect(status).toMatch(/edge: not reachable \(host edge: authentication failed: .* refused the key/);
    } finally {
      await refused.stop();
      rmSync(wrong, { force: true });
      rmSync(`${wrong}.pub`, { force: true });
    }
    expect(acceptedSince(logFrom)).toEqual([]);
  });

  it('never ran a system ssh nor read a known_hosts file', () => {
    expect(existsSync(join(bin, 'ssh-called'))).toBe(false);
    expect(existsSync(join(home, '.ssh'))).toBe(false);
  });
});
