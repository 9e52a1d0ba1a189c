/**
 * vitest globalSetup of the `integration` project: runs test/env/setup.sh (idempotent; seconds when
 * everything is up), removes leftovers of crashed runs, and provides the environment facts to tests as
 * `inject('siteflowTestEnv')`. Also exports them to child processes: DOCKER_HOST, SITEFLOW_TEST_RUN_ID,
 * SITEFLOW_TEST_ENV_STATE, SITEFLOW_TEST_REGISTRY, SITEFLOW_TEST_IMAGE, SITEFLOW_TEST_REGISTRY_IMAGE.
 *
 * Teardown removes everything labelled with this run's id. The engine and registry stay up for the next
 * run; set SITEFLOW_TEST_ENV_STOP=1 to also run `setup.sh --stop` (which stops only what setup started,
 * and not while another live test run holds a lease).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { SiteFlowError } from '../../src/core/errors.js';
import {
  cleanupRun,
  cleanupStale,
  loadTestEnv,
  REPO_DIR,
  runId,
  stateDir,
  statePath,
  type TestEnvFacts,
} from './harness.js';

const SETUP_SCRIPT = path.join(REPO_DIR, 'test/env/setup.sh');

function runSetup(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SETUP_SCRIPT, ...args], {
      cwd: REPO_DIR,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, SITEFLOW_TEST_LEASE_PID: String(process.pid) },
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new SiteFlowError(
            'RUN_TEST_ENV',
            `bash test/env/setup.sh ${args.join(' ')} failed (${code ?? signal})`,
          ),
        );
    });
  });
}

/** Sets up the real test environment and returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  process.env.SITEFLOW_TEST_RUN_ID = runId;
  const leaseDir = path.join(stateDir(), 'leases');
  mkdirSync(leaseDir, { recursive: true });
  const lease = path.join(leaseDir, String(process.pid));
  writeFileSync(lease, `${runId}\n`);

  await runSetup(['--quiet']);
  const file = statePath();
  const env = loadTestEnv(file);

  process.env.DOCKER_HOST = env.dockerHost;
  process.env.SITEFLOW_TEST_ENV_STATE = file;
  process.env.SITEFLOW_TEST_REGISTRY = env.registry;
  process.env.SITEFLOW_TEST_IMAGE = env.images.busybox;
  process.env.SITEFLOW_TEST_REGISTRY_IMAGE = env.images.registryBusybox;

  const stale = await cleanupStale();
  if (stale.length > 0) console.error(`[test-env] removed leftovers of dead runs: ${stale.join(', ')}`);

  const facts: TestEnvFacts = { ...env, runId, statePath: file };
  project.provide('siteflowTestEnv', facts);

  return async () => {
    try {
      await cleanupRun(runId);
    } finally {
      rmSync(lease, { force: true });
      if (process.env.SITEFLOW_TEST_ENV_STOP === '1') {
        // Exit 3 means another live run holds a lease: leave the environment up for it.
        await runSetup(['--stop', '--quiet']).catch((err: unknown) => {
          console.error(`[test-env] not stopped: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
    }
  };
}
