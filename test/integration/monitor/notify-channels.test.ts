/**
 * The notification channels against real receivers on loopback: a docker kill and its return
 * reach a webhook receiver (signed, unique delivery ids), a real SMTP server (Debian's
 * aiosmtpd) and a recording ntfy stand-in that checks the documented JSON format, exactly
 * once each; and, through the persisted queue, a webhook answering 500 gets the same delivery
 * again until it accepts it, while a 4xx is given up and reported. Secrets stay out of the log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AlertRecord } from '../../../src/core/alerts.js';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { type Delivery, SqliteAlertStore } from '../../../src/db/sqlite-alert-store.js';
import { AlertDeliveryQueue } from '../../../src/monitor/delivery-queue.js';
import { WebhookAlertChannel, webhookSignature } from '../../../src/notify/webhook-alert-channel.js';
import { type ComposeProject, createComposeProject, run, testDocker, waitFor } from '../../env/harness.js';
import { NtfyStandIn, SmtpServer, WebhookReceiver } from '../../fakes/notify-receivers.js';
import { startTestSiteFlow, type TestSiteFlow, testLogger } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
const SECRET = 'whsec-test-7f3a9c1e';
const HOOK_TOKEN = 'hooktoken-d41d8cd98f';
const NTFY_TOKEN = 'tk_ntfytoken0123456789';
const TOPIC = 'sf-alerts-x9q2';

let docker: Docker;
let dir: string;
let sf: TestSiteFlow;
let project: ComposeProject;
const hook = new WebhookReceiver();
const ntfy = new NtfyStandIn(TOPIC, NTFY_TOKEN);
const smtp = new SmtpServer();

beforeAll(async () => {
  docker = testDocker(env);
  await Promise.all([hook.start(), ntfy.start(), smtp.start()]);
  project = createComposeProject(
    { name: 'nkill', services: { web: { command: ['sleep', '3600'], restart: 'unless-stopped' } } },
    env,
  );
  await project.up();
  dir = mkdtempSync(join(tmpdir(), 'sf-notify-'));
  sf = await startTestSiteFlow(
    {
      DOCKER_HOSTS: env.dockerHost,
      ALERT_STORM_THRESHOLD: '1000',
      ALERT_RECOVER_AFTER_SECONDS: '1',
      NOTIFY_WEBHOOK_URLS: `ops=${hook.url}/hook/${HOOK_TOKEN}`,
      NOTIFY_WEBHOOK_SECRET: SECRET,
      NTFY_URL: `${ntfy.url}/${TOPIC}`,
      NTFY_TOKEN,
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      ALERT_EMAIL_FROM: 'siteflow@example.test',
      ALERT_EMAIL_TO: 'ops@example.test',
      WEB_PUBLIC_URL: 'https://status.example.test',
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
  await Promise.all([hook.stop(), ntfy.stop(), smtp.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('notification channels against real receivers', () => {
  it('docker kill: one signed alert.opened and one alert.resolved on the webhook, one mail each on real SMTP, one ntfy publish each (recording ntfy stand-in)', async () => {
    const list = await docker.listContainers({
      all: true,
      filters: { label: [`com.docker.compose.project=${project.name}`] },
    });
    const from = sf.driver.transcript.length;
    await run('docker', ['kill', list[0]!.Id], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`ALERT .*${project.name} is down`), from, 10_000);
    await run('docker', ['start', list[0]!.Id], { env: cliEnv });
    await sf.driver.waitFor(new RegExp(`${project.name} recovered after`), from, 20_000);

    const mine = () => hook.accepted().filter((r) => r.body.site === project.name);
    await waitFor('webhook resolved', () => mine().some((r) => r.body.event === 'alert.resolved'), 15_000);
    // Everything so far judged and delivered: one of each, no repeat.
    await sf.settled();
    const events = mine();
    expect(events.filter((r) => r.body.event === 'alert.opened')).toHaveLength(1);
    expect(events.filter((r) => r.body.event === 'alert.resolved')).toHaveLength(1);
    const opened = events.find((r) => r.body.event === 'alert.opened')!;
    expect(opened.path).toBe(`/hook/${HOOK_TOKEN}`);
    expect(Object.keys(opened.body).sort()).toEqual(
      ['at', 'event', 'host', 'id', 'severity', 'site', 'text', 'title', 'url'].sort(),
    );
    expect(opened.body).toMatchObject({
      severity: 'critical',
      host: 'local',
      title: `${project.name} is down`,
      url: 'https://status.example.test',
    });
    expect(Number.isNaN(Date.parse(String(opened.body.at)))).toBe(false);
    for (const r of events) {
      expect(r.headers['x-siteflow-event']).toBe(r.body.event);
      expect(r.headers['x-siteflow-signature']).toBe(webhookSignature(SECRET, r.raw));
      expect(r.body.id).toBe(opened.body.id);
    }
    const ids = events.map((r) => r.headers['x-siteflow-delivery']);
    expect(new Set(ids).size).toBe(ids.length);

    // Email: the opened and the resolved mail, plain text, the second threaded under the first.
    const mails = () => smtp.mails().filter((m) => (m.headers.subject ?? '').includes(project.name));
    await waitFor('two mails', () => mails().length >= 2, 15_000);
    const [m1, m2] = mails();
    expect(mails()).toHaveLength(2);
    expect(m1!.headers.subject).toBe(`[SiteFlow] ${project.name} is down`);
    expect(m1!.headers['content-type']).toMatch(/^text\/plain/);
    expect(m1!.body).toContain(`local/${project.name}`);
    expect(m2!.headers.subject).toBe(`[SiteFlow] RESOLVED ${project.name} is down`);
    expect(m2!.headers['in-reply-to']).toBe(m1!.headers['message-id']);

    // ntfy: one publish on opening, one on resolution, in the documented JSON format.
    const pushes = () => ntfy.published().filter((m) => String(m.title).includes(project.name));
    await waitFor('two pushes', () => pushes().length >= 2, 15_000);
    expect(ntfy.problems).toEqual([]);
    expect(pushes()).toHaveLength(2);
    expect(pushes()[0]).toMatchObject({
      topic: TOPIC,
      title: `${project.name} is down`,
      priority: 5,
      actions: [{ action: 'view', label: 'Status page', url: 'https://status.example.test' }],
    });
    expect(pushes()[0]!.tags).toContain('rotating_light');
    expect(pushes()[1]).toMatchObject({ title: `Resolved: ${project.name} is down`, priority: 3 });

    // No secret in the log or on the console.
    const seen = sf.logLines.join('\n') + sf.driver.transcript;
    for (const s of [SECRET, HOOK_TOKEN, NTFY_TOKEN, TOPIC]) expect(seen).not.toContain(s);
  });
});

describe('webhook delivery through the persisted queue', () => {
  let db: OpenDatabase;
  let queue: AlertDeliveryQueue;
  const dropped: Array<{ d: Delivery; error: string }> = [];
  const rx = new WebhookReceiver();
  let dbDir: string;

  beforeAll(async () => {
    await rx.start();
    dbDir = mkdtempSync(join(tmpdir(), 'sf-webhook-q-'));
    db = openDatabase(join(dbDir, 'q.db'));
    queue = new AlertDeliveryQueue({
      store: new SqliteAlertStore(db.db),
      clock: { now: () => Date.now() },
      logger: testLogger(),
      backoffMs: { initial: 50, max: 200 },
      onDropped: (d, error) => dropped.push({ d, error }),
    });
    queue.addChannel(
      new WebhookAlertChannel({ name: 'rx', url: `${rx.url}/in`, secret: SECRET, publicUrl: null }),
    );
  });

  afterAll(async () => {
    queue?.stop();
    db?.close();
    await rx.stop();
    rmSync(dbDir, { recursive: true, force: true });
  });

  const alert = (id: string, over: Partial<AlertRecord> = {}): AlertRecord => ({
    id,
    kind: 'site',
    key: `site:local/${id}`,
    severity: 'critical',
    status: 'open',
    host: 'local',
    site: id,
    title: `${id} is down`,
    lines: [],
    silenced: false,
    parentId: null,
    openedAt: Date.now(),
    updatedAt: Date.now(),
    resolvedAt: null,
    ackedBy: null,
    remindedAt: Date.now(),
    announced: true,
    ...over,
  });

  it('500 three times: the same delivery id arrives again and is accepted; nothing lost or doubled', async () => {
    rx.failNext(3, 500);
    const a = alert('al_retry1');
    const b = alert('al_retry2');
    queue.post(a);
    queue.post(b);
    queue.update({ ...a, status: 'resolved', resolvedAt: Date.now() });
    await waitFor('delivered', () => queue.length() === 0, 15_000);
    const tries = rx.requests;
    expect(tries.map((r) => r.status)).toEqual([500, 500, 500, 204, 204, 204]);
    const first = tries[0]!.headers['x-siteflow-delivery'];
    expect(tries.slice(0, 4).every((r) => r.headers['x-siteflow-delivery'] === first)).toBe(true);
    // The body (and so its signature) is the same on every attempt.
    expect(new Set(tries.slice(0, 4).map((r) => r.raw)).size).toBe(1);
    const ok = rx.accepted();
    expect(ok.map((r) => `${r.body.id} ${r.body.event}`)).toEqual([
      'al_retry1 alert.opened',
      'al_retry2 alert.opened',
      'al_retry1 alert.resolved',
    ]);
    expect(new Set(ok.map((r) => r.headers['x-siteflow-delivery'])).size).toBe(3);
    expect(dropped).toEqual([]);
  });

  it('a 4xx other than 408/429 is given up and reported; later alerts still go out', async () => {
    const before = rx.requests.length;
    rx.failNext(1, 410);
    queue.post(alert('al_gone1'));
    queue.post(alert('al_after1'));
    await waitFor('delivered', () => queue.length() === 0, 15_000);
    expect(rx.requests.slice(before).map((r) => r.status)).toEqual([410, 204]);
    expect(dropped.map((x) => [x.d.alertId, x.error])).toEqual([['al_gone1', 'webhook:rx: HTTP 410']]);
  });
});
