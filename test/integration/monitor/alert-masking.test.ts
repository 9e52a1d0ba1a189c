/**
 * Alert texts are masked like run output: a container prints its site's DB_PASSWORD (from the
 * site's `.env`, in a line no secret-looking pattern catches) and then crashes. The alert's
 * crash context (its last log lines) reaches the console thread and a notification channel (a
 * loopback webhook receiver) with the value masked; the value itself appears nowhere in them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MASK } from '../../../src/core/secret-mask.js';
import { type ComposeProject, createComposeProject, run, testDocker, waitFor } from '../../env/harness.js';
import { WebhookReceiver } from '../../fakes/notify-receivers.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
let docker: Docker;
let dir: string;
let sf: TestSiteFlow;
let project: ComposeProject;
const hook = new WebhookReceiver();

beforeAll(async () => {
  docker = testDocker(env);
  await hook.start();
  project = createComposeProject(
    {
      name: 'mcrash',
      services: {
        web: {
          // Compose interpolates it from the site's .env.
          // biome-ignore lint/suspicious/noTemplateCurlyInString: compose syntax, not JS
          environment: { DB_PASSWORD: '${DB_PASSWORD}' },
          command: [
            'sh',
            '-c',
            'echo starting; echo "connecting to db as app with $$DB_PASSWORD"; ' +
              'while [ ! -f /tmp/go ]; do sleep 0.2; done; echo "giving up on $$DB_PASSWORD"; exit 3',
          ],
          restart: 'no',
        },
      },
    },
    env,
  );
  writeFileSync(join(project.dir, '.env'), `DB_PASSWORD=${PASSWORD}\n`);
  await project.up();
  dir = mkdtempSync(join(tmpdir(), 'sf-alert-mask-'));
  sf = await startTestSiteFlow(
    { DOCKER_HOSTS: env.dockerHost, ALERT_STORM_THRESHOLD: '1000', NOTIFY_WEBHOOK_URLS: `${hook.url}/h` },
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

describe('alert masking (real engine, console, webhook)', () => {
  it("a crashed container's last log lines carry its site's .env secret masked, in the thread and the notification", async () => {
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
        .find((l) => l.includes('ALERT') && l.includes(`${project.name} is down`))!,
    )![1]!;
    await sf.driver.waitFor(new RegExp(`${id}: \\s*\\| giving up on`), from, 10_000);
    const thread = sf.driver.transcript
      .slice(from)
      .split('\n')
      .filter((l) => l.includes(`${id}:`))
      .join('\n');
    expect(thread).toContain('exited with code 3');
    expect(thread).toContain(`| connecting to db as app with ${MASK}`);
    expect(thread).toContain(`| giving up on ${MASK}`);

    const withContext = () =>
      hook.accepted().find((r) => r.body.id === id && String(r.body.text).includes('giving up on'));
    await waitFor('webhook update with the context', () => withContext() !== undefined, 10_000);
    expect(String(withContext()!.body.text)).toContain(`giving up on ${MASK}`);

    for (const [where, text] of [
      ['console', sf.driver.transcript],
      ['webhook', JSON.stringify(hook.accepted())],
    ] as const)
      expect(text.includes(PASSWORD), where).toBe(false);
  });
});
