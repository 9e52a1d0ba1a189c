/**
 * DATA_DIR on a small tmpfs that is filled to the last byte and then freed, with SiteFlow on
 * the Discord fake: it keeps answering commands and /healthz (checks.disk false), posts one
 * disk alert, a kill alert still reaches the ops channel, and once the filler is gone the audit
 * rows of the commands run meanwhile are there and the disk alert recovers. The rows are checked
 * both ways: written through the room of SiteFlow's disk reserve, and (once that room is taken
 * too) held in memory and written when space returns.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { type ComposeProject, createComposeProject, testDocker, waitFor } from '../env/harness.js';
import { DiscordIds, FakeDiscord } from '../fakes/discord-server.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
let fake: FakeDiscord;
let app: SiteFlow;
let dir: string;
let mnt: string;
let mounted = false;
let docker: Docker;
let site: ComposeProject;

/** Writes `path` until the file system says ENOSPC. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(256 * 1024, 1);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw e;
      }
    }
    // The last partial block too.
    for (const size of [4096, 512, 1]) {
      try {
        for (;;) written += writeSync(fd, chunk.subarray(0, size));
      } catch {
        // full at this size
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/**
 * Empties the database's write-ahead log to zero bytes from a second connection (as a backup
 * tool may): SQLite reuses the space of the WAL it has, so rows would still fit in it.
 */
function truncateWal(): boolean {
  const db = new Database(join(mnt, 'data', 'siteflow.db'));
  try {
    const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    return r?.busy === 0;
  } catch {
    return false;
  } finally {
    db.close();
  }
}

async function healthz(): Promise<{ checks: Record<string, boolean> }> {
  const res = await fetch(`${app.webUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as { checks: Record<string, boolean> };
}

const opsMessages = (re: RegExp) => fake.messagesIn(DiscordIds.ops).filter((m) => re.test(m.content));

beforeAll(async () => {
  docker = testDocker(env);
  site = createComposeProject({ name: 'dfull', services: { web: { command: ['sleep', '3600'] } } }, env);
  await site.up();
  dir = mkdtempSync(join(tmpdir(), 'sf-diskfull-'));
  mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=0700', 'tmpfs', mnt]);
  mounted = true;
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  const config = loadConfig(
    {
      DATA_DIR: join(mnt, 'data'),
      SITES_ROOT: join(dir, 'sites'),
      WEB_PORT: '0',
      DOCKER_HOSTS: env.dockerHost,
      DISK_MIN_FREE_MB: '4',
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_ID: DiscordIds.guild,
      DISCORD_ALERT_CHANNEL_ID: DiscordIds.ops,
      ALERT_STORM_THRESHOLD: '1000',
    },
    { envFile: null },
  );
  app = await startSiteFlow(config, { logger: testLogger(), console: false });
  await waitFor('site up in the live state', () => app.live.site('local', site.name)?.state === 'up', 30_000);
  await waitFor('disk ok', async () => (await healthz()).checks.disk === true, 15_000);
}, 120_000);

afterAll(async () => {
  await app?.stop('test done');
  await fake?.stop();
  await site?.down().catch(() => undefined);
  if (mounted) execFileSync('umount', ['-l', mnt]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('DATA_DIR full', () => {
  it('keeps serving and recording, alerts once, and recovers when space returns', async () => {
    const filler = join(mnt, 'filler');
    expect(fill(filler)).toBeGreaterThan(0);

    await waitFor('checks.disk false', async () => (await healthz()).checks.disk === false, 20_000);
    await fake.waitFor(() => opsMessages(/data folder is full/)[0], 20_000, 'disk alert');

    // Commands still answer (and are acknowledged in time) while the disk is full.
    const recs = [];
    for (let i = 0; i < 2; i++) {
      const rec = fake.slashCommand({ name: 'status', options: {}, user: DiscordIds.bob });
      recs.push(rec);
      await fake.waitFor(() => rec.ackedAt, 3000, `ack ${i}`);
      await fake.waitFor(() => rec.replyContent, 10_000, `reply ${i}`);
    }
    // A kill alert still reaches the ops channel.
    const [c] = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${site.name}`] },
    });
    await docker.getContainer(c!.Id).kill();
    await fake.waitFor(() => opsMessages(new RegExp(`${site.name} is`))[0], 30_000, 'kill alert');

    // The commands' rows went in through the room of the released reserve. Now that room is taken
    // too (and the WAL emptied): the next command's row cannot be written and is held in memory.
    const bobsStatusRows = () =>
      app.services.audit.query({ action: 'status', actorId: DiscordIds.bob }).entries.length;
    const held = async () =>
      Number(
        /^siteflow_db_writes_held (\d+)/m.exec(await (await fetch(`${app.webUrl}/metrics`)).text())?.[1],
      );
    const filler2 = join(mnt, 'filler2');
    await waitFor('the WAL emptied', truncateWal, 10_000);
    fill(filler2);
    const last = fake.slashCommand({ name: 'status', options: {}, user: DiscordIds.bob });
    await fake.waitFor(() => last.ackedAt, 3000, 'ack while nothing fits');
    await fake.waitFor(() => last.replyContent, 10_000, 'reply while nothing fits');
    await waitFor('its audit row held', async () => (await held()) > 0, 10_000);
    expect(bobsStatusRows()).toBe(2);

    rmSync(filler2);
    rmSync(filler);
    await waitFor('checks.disk true again', async () => (await healthz()).checks.disk === true, 30_000);
    await waitFor('audit rows of the commands run while full', () => bobsStatusRows() === 3, 30_000);
    await waitFor('no writes held any more', async () => (await held()) === 0, 30_000);
    await fake.waitFor(
      () =>
        opsMessages(/data folder is full/)[0]?.versions.some((v) => /RESOLVED|room again/.test(v.content)),
      30_000,
      'disk alert resolved',
    );
    // One disk alert, not one per check.
    expect(opsMessages(/data folder is full/)).toHaveLength(1);
    const metrics = await (await fetch(`${app.webUrl}/metrics`)).text();
    expect(metrics).toMatch(/siteflow_data_disk_ok 1/);
    expect(metrics).toMatch(/siteflow_data_free_bytes \d+/);
  }, 180_000);
});
