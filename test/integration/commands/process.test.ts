/**
 * SiteFlow as a real process: SIGKILL during a run leaves it `interrupted` after the next
 * start; SIGTERM lets runs finish within the grace period, then cancels and records them.
 * Also two Docker hosts: sites listed as host/site and restarted on the right engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, testDocker } from '../../env/harness.js';
import { type SecondEngine, startSecondEngine } from '../../env/second-engine.js';
import { startTestSiteFlow } from '../../support/siteflow.js';
import { type SiteFlowProcess, spawnSiteFlow } from '../../support/siteflow-process.js';

const env = inject('siteflowTestEnv');
let stubborn: ComposeProject;

/** SiteFlow as a child process on the test engine, its data in `dir`. */
const start = (dir: string, extra: Record<string, string> = {}) =>
  spawnSiteFlow(dir, {
    DATA_DIR: join(dir, 'data'),
    SITES_ROOT: join(dir, 'sites'),
    DOCKER_HOSTS: env.dockerHost,
    ...extra,
  });

const opIdIn = (s: string) => /\((op_[0-9a-z]{26})\)/.exec(s)?.[1];

beforeAll(async () => {
  stubborn = createComposeProject(
    {
      name: 'proc',
      services: { app: { init: false, command: ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'] } },
    },
    env,
  );
  await stubborn.up();
});

afterAll(async () => {
  await stubborn?.forceDown();
});

describe('SiteFlow as a process', () => {
  it('marks a run interrupted when the process is killed mid-run, and frees the site', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-proc-'));
    let p: SiteFlowProcess | null = null;
    try {
      p = start(dir);
      await p.waitFor(/Type \/help/);
      p.child.stdin!.write(`/restart ${stubborn.name}\n`);
      const out = await p.waitFor(/app: stopping/);
      const id = opIdIn(out)!;
      await p.kill();

      const again = await startTestSiteFlow(
        { MONITOR_ENABLED: 'false', DOCKER_HOSTS: env.dockerHost },
        { dir },
      );
      try {
        const op = again.app.services.operations.get(id)!;
        expect(op.status).toBe('interrupted');
        expect(op.finishedAt).not.toBeNull();
        const audit = again.app.services.audit.query({ action: 'restart', site: stubborn.name, limit: 5 });
        expect(audit.entries.find((e) => e.operationId === id)?.outcome).toBe('interrupted');
        const next = await again.driver.type(`/restart ${stubborn.name}`, /Restarting|busy/);
        expect(next).not.toContain('is busy');
        const nextId = opIdIn(next)!;
        await again.driver.type(`/cancel ${nextId}`, 'Cancelling');
        await again.driver.waitFor(new RegExp(`${nextId} cancelled`), 0, 30_000);
      } finally {
        await again.stop();
      }
    } finally {
      await p?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on SIGTERM stops taking commands, waits the grace period, then cancels and records the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-term-'));
    try {
      const p = start(dir, { SHUTDOWN_GRACE_SECONDS: '1' });
      await p.waitFor(/Type \/help/);
      p.child.stdin!.write(`/restart ${stubborn.name}\n`);
      const out = await p.waitFor(/app: stopping/);
      const id = opIdIn(out)!;
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      const after = await startTestSiteFlow(
        { MONITOR_ENABLED: 'false', DOCKER_HOSTS: env.dockerHost },
        { dir },
      );
      try {
        const op = after.app.services.operations.get(id)!;
        expect(op.status).toBe('cancelled');
        expect(op.error).toMatch(/shut down/i);
        const audit = after.app.services.audit.query({ action: 'restart', site: stubborn.name, limit: 5 });
        expect(audit.entries.find((e) => e.operationId === id)?.outcome).toBe('cancelled');
      } finally {
        await after.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('two Docker hosts', () => {
  let second: SecondEngine;
  let onLocal: ComposeProject;
  let onEdge: ComposeProject;

  beforeAll(async () => {
    second = await startSecondEngine(env);
    onLocal = createComposeProject({ name: 'twin', services: { web: { command: ['sleep', '3600'] } } }, env);
    onEdge = createComposeProject(
      { name: 'edgeonly', services: { web: { command: ['sleep', '3600'] } } },
      { ...env, dockerHost: second.dockerHost },
    );
    // The same project name on both hosts, to prove host/site disambiguation.
    const twinOnEdge = createComposeProject(
      { name: 'twin', services: { web: { command: ['sleep', '3600'] } } },
      { ...env, dockerHost: second.dockerHost },
    );
    await Promise.all([onLocal.up(), onEdge.up(), twinOnEdge.up()]);
  }, 240_000);

  afterAll(async () => {
    await onLocal?.down().catch(() => undefined);
    await second?.stop();
  }, 120_000);

  it('lists sites as host/site and restarts on the right engine', async () => {
    const sf = await startTestSiteFlow({
      MONITOR_ENABLED: 'false',
      DOCKER_HOSTS: `local=${env.dockerHost},edge=${second.dockerHost}`,
    });
    try {
      const list = await sf.driver.type('/status', /site\s+state/);
      expect(list).toContain(`local/${onLocal.name}`);
      expect(list).toContain(`edge/${onLocal.name}`);
      expect(list).toContain(`edge/${onEdge.name}`);
      const ambiguous = await sf.driver.type(`/restart ${onLocal.name}`, /several hosts/);
      expect(ambiguous).toContain(`edge/${onLocal.name}`);

      const started = async (d: import('dockerode'), project: string) => {
        const [c] = await d.listContainers({ filters: { label: [`com.docker.compose.project=${project}`] } });
        return (await d.getContainer(c!.Id).inspect()).State.StartedAt;
      };
      const localDocker = testDocker(env);
      const before = {
        local: await started(localDocker, onLocal.name),
        edge: await started(second.docker, onLocal.name),
      };
      const out = await sf.driver.type(`/restart edge/${onLocal.name}`, /op_\w+ (succeeded|failed)/, 60_000);
      expect(out).toMatch(/Restarting .* on edge/);
      expect(out).toMatch(/succeeded/);
      expect(await started(second.docker, onLocal.name)).not.toBe(before.edge);
      expect(await started(localDocker, onLocal.name)).toBe(before.local);
      // A site that only exists on edge resolves without a host prefix.
      expect(await sf.driver.type(`/status ${onEdge.name}`, /on edge/)).toMatch(/web\s+up/);
    } finally {
      await sf.stop();
    }
  });
});
