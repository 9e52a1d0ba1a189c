/**
 * Host health of a remote Docker host over SSH for real: a second dockerd whose socket only the
 * sshd test user's group can open, reached only through a real sshd on loopback. edge's site
 * folder (SITES_ROOTS) is a 16 MiB tmpfs of its own, so its figures can only come from reading
 * that path on edge; they are read by one exec over SiteFlow's ssh2 connection.
 */
import { chmodSync, chownSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run, type SshdHandle, startSshd, waitFor } from '../../env/harness.js';
import { type SecondEngine, startSecondEngine } from '../../env/second-engine.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const TMPFS_BYTES = 16 * 1024 * 1024;

let sshd: SshdHandle;
let e2: SecondEngine;
let sf: TestSiteFlow;
let edgeRoot = '';
let mounted = false;

beforeAll(async () => {
  sshd = await startSshd(env);
  e2 = await startSecondEngine(env, { socketGroup: sshd.user });
  edgeRoot = mkdtempSync(join(tmpdir(), 'sf-edge-health-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES},mode=0755`, 'tmpfs', edgeRoot]);
  mounted = true;
  const uid = Number((await run('id', ['-u', sshd.user])).stdout.trim());
  chownSync(edgeRoot, uid, -1);
  chmodSync(edgeRoot, 0o755);
  sf = await startTestSiteFlow({
    // Only edge: the local host's disks stay out of the alert count.
    DOCKER_HOSTS: `edge=ssh://${sshd.user}@127.0.0.1:${sshd.port}?socket=${e2.socketPath}`,
    DOCKER_SSH_HOST_KEYS: `edge=${sshd.hostKeyFingerprint}`,
    DOCKER_SSH_KEY_PATH: sshd.privateKeyPath,
    SITES_ROOTS: `edge=${edgeRoot}`,
    HOST_DISK_ALERT_PERCENT: '1',
    DOCKER_RETRY_SECONDS: '1',
  });
}, 180_000);

afterAll(async () => {
  await sf?.stop();
  await e2?.stop();
  await sshd?.stop();
  if (mounted) await run('umount', [edgeRoot]).catch(() => undefined);
  if (edgeRoot) rmSync(edgeRoot, { recursive: true, force: true });
});

describe('host health of an ssh:// host', () => {
  it('/status, the page and /metrics show edge disk use (data root and SITES_ROOTS), memory and load read over SSH', async () => {
    const health = sf.app.services.hostHealth!;
    const h = await waitFor(
      'first measurement of edge',
      () => {
        const x = health.latest('edge');
        return x && x.disks.length === 2 ? x : null;
      },
      60_000,
    );
    expect(h.source).toBe('ssh');
    expect(h.problems).toEqual([]);
    const docker = h.disks.find((d) => d.what === 'docker')!;
    const sites = h.disks.find((d) => d.what === 'sites')!;
    // The data root edge's engine reports (its own --data-root), measured on its filesystem.
    expect(docker.path).toBe((await e2.docker.info()).DockerRootDir);
    const fs = statfsSync(docker.path);
    expect(docker.totalBytes).toBe(fs.blocks * fs.bsize);
    // SITES_ROOTS on edge is the empty 16 MiB tmpfs: nothing else has that size.
    expect(sites).toMatchObject({ path: edgeRoot, totalBytes: TMPFS_BYTES, usedBytes: 0, percent: 0 });
    expect(sites.fsId).not.toBe(docker.fsId);
    // Memory and load of the machine edge runs on (this one, in the test).
    expect(h.memory?.totalBytes).toBe(os.totalmem());
    expect(h.load).toHaveLength(3);
    expect(h.cpus).toBeGreaterThan(0);

    const out = await sf.driver.type('/status', /Host edge:/, 30_000);
    expect(out).toMatch(
      /Host edge: disk docker \d+%, sites 0%; memory \d+%; load \d+\.\d\d; \d+ images, \d+ containers, \d+ volumes, [\d.]+ [KMGT]?B reclaimable/,
    );
    const page = await (await fetch(`${sf.app.webUrl}/`)).text();
    expect(page).toMatch(/data-role="host-health">edge: disk docker \d+%, sites 0%; memory \d+%/);
    const metrics = await (await fetch(`${sf.app.webUrl}/metrics`)).text();
    expect(metrics).toMatch(/siteflow_host_disk_used_ratio\{host="edge",what="docker"\} 0\.\d+/);
    expect(metrics).toMatch(/siteflow_host_disk_used_ratio\{host="edge",what="sites"\} 0\b/);
    expect(metrics).toMatch(/siteflow_host_memory_used_ratio\{host="edge"\} 0\.\d+/);
  });

  it('a disk of edge above HOST_DISK_ALERT_PERCENT alerts once, over several measurements', async () => {
    const title = /Disk of edge \(Docker data root\) is \d+% full/g;
    await sf.driver.waitFor(title, 0, 60_000);
    const health = sf.app.services.hostHealth!;
    await health.refresh('edge');
    await health.refresh('edge');
    await sf.settled();
    const t = sf.driver.transcript;
    expect(t.match(title)).toHaveLength(1);
    // The empty tmpfs (0%) is below even 1%: no alert for it.
    expect(t).not.toMatch(/Disk of edge \(SITES_ROOTS?\)/);
  });

  it('sshd stopped: the measurement fails at once with the reason, /status answers, the alert stays open', async () => {
    const health = sf.app.services.hostHealth!;
    const from = sf.driver.transcript.length;
    await sshd.pause();
    try {
      const started = Date.now();
      // A measurement racing the drop may see a request cut off ("socket hang up") beside the
      // unreachable host: a reason of its own. Once SiteFlow knows edge is unreachable, every
      // part fails for that one reason.
      await waitFor(
        'edge unreachable in the live state',
        () => sf.app.live.snapshot().hosts.find((x) => x.name === 'edge')?.reachable === false,
        30_000,
      );
      const h = await waitFor(
        'a failed measurement of edge',
        async () => {
          const x = await health.refresh('edge');
          return x && x.disks.length === 0 ? x : null;
        },
        30_000,
      );
      expect(Date.now() - started).toBeLessThan(30_000);
      // One problem naming every part, not one per part.
      expect(h.problems).toHaveLength(1);
      expect(h.problems[0]).toMatch(/: host edge: host unreachable/);
      for (const part of ['engine info', 'system df', 'docker disk', 'sites disk', 'memory', 'load'])
        expect(h.problems[0]).toContain(part);
      expect(h.memory).toBeNull();
      const out = await sf.driver.type('/status', /Host edge:/, 15_000);
      expect(out).toMatch(/Host edge: .*host unreachable/);
      await sf.settled();
      expect(sf.driver.transcript.slice(from)).not.toMatch(/Disk of edge \(docker\) is down to/);
    } finally {
      await sshd.resume();
    }
    const back = await waitFor(
      'edge measured again',
      async () => {
        const x = await health.refresh('edge');
        return x && x.disks.length === 2 ? x : null;
      },
      60_000,
    );
    expect(back.problems).toEqual([]);
  });
});
