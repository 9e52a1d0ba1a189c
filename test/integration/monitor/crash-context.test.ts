/**
 * Crash context against the real engine: a container with a 16 MiB memory limit that
 * allocates past it is OOM-killed by the kernel; its alert says so, gives the limit and
 * carries its last log lines (masked and clamped) in the alert's thread (console replies)
 * and, on notification channels, in the body of the alert's update that follows its opening
 * (a loopback webhook receiver).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ComposeProject, createComposeProject, run, testDocker, waitFor } from '../../env/harness.js';
import { WebhookReceiver } from '../../fakes/notify-receivers.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
let docker: Docker;
let dir: string;
let sf: TestSiteFlow;
let project: ComposeProject;
const hook = new WebhookReceiver();

// Prints 25 numbered lines and a secret-looking one, waits for the test's go, then doubles a
// string until the cgroup's memory limit is hit (no swap allowed): the kernel OOM-kills it.
const SCRIPT = [
  'echo starting',
  'i=1; while [ $i -le 25 ]; do echo "line $i"; i=$((i+1)); done',
  'echo db_password=hunter2secret',
  'while [ ! -f /tmp/go ]; do sleep 0.2; done',
  'x=a; while :; do x=$x$x; done',
]
  .join('; ')
  .replaceAll('$', '$$$$'); // compose interpolates $: $$ is a literal dollar

beforeAll(async () => {
  docker = testDocker(env);
  await hook.start();
  project = createComposeProject(
    {
      name: 'moom',
      services: {
        web: { command: ['sh', '-c', SCRIPT], restart: 'no', mem_limit: '16m', memswap_limit: '16m' },
      },
    },
    env,
  );
  await project.up();
  dir = mkdtempSync(join(tmpdir(), 'sf-oom-'));
  sf = await startTestSiteFlow(
    {
      DOCKER_HOSTS: env.dockerHost,
      ALERT_STORM_THRESHOLD: '1000',
      NOTIFY_WEBHOOK_URLS: `${hook.url}/h`,
    },
    { dir },
  );
  await waitFor('site listed', async () =>
    (await sf.driver.type('/status', /site\s+state/)).includes(project.name),
  );
}, 240_000);

afterAll(async () => {
  await sf?.stop();
  await project?.down().catch(() => undefined);
  await hook.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('crash context', () => {
  it('an OOM-killed container: the alert says OOM-killed, gives the limit and carries its last log lines, masked', async () => {
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${project.name}`] },
    });
    const from = sf.driver.transcript.length;
    await run('docker', ['exec', c!.Id, 'touch', '/tmp/go'], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`ALERT .*${project.name} is down`), from, 30_000);
    const id = /(al_[0-9a-z]+)\]/.exec(
      sf.driver.transcript
        .slice(from)
        .split('\n')
        // Other test files' sites share the engine: take this site's alert.
        .find((l) => l.includes('ALERT') && l.includes(`${project.name} is down`))!,
    )![1]!;
    await sf.driver.waitFor(new RegExp(`${id}: \\s*\\| line 25`), from, 10_000);
    const thread = sf.driver.transcript
      .slice(from)
      .split('\n')
      .filter((l) => l.includes(`${id}:`))
      .join('\n');
    expect(thread).toMatch(/exited with code 137, OOM-killed \(out of memory\), memory limit 16.0 MiB/);
    expect(thread).toContain('last 20 log lines:');
    expect(thread).toContain('| line 25');
    expect(thread).toContain('| line 7');
    expect(thread).not.toContain('| line 6\n');
    expect(thread).toContain('db_password=[redacted]');
    expect(thread).not.toContain('hunter2secret');

    // A notification channel has no thread: the context is in the body.
    const withContext = () =>
      hook.accepted().find((r) => r.body.id === id && String(r.body.text).includes('OOM-killed'));
    await waitFor('webhook update with the context', () => withContext() !== undefined, 10_000);
    expect(withContext()!.body.event).toBe('alert.updated');
    const text = String(withContext()!.body.text);
    expect(text).toMatch(/OOM-killed/);
    expect(text).toContain('memory limit 16.0 MiB');
    expect(text).toContain('| line 25');
    expect(text).not.toContain('hunter2secret');
  });
});
