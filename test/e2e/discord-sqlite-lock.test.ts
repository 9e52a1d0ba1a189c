/**
 * SQLite locked by another process (as a backup tool does) while commands arrive from Discord:
 * a second process holds an exclusive write lock on siteflow.db for 10 s; /status is still
 * acknowledged within Discord's 3 s and answered, and its audit rows land once the lock is gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { REPO_DIR, waitFor } from '../env/harness.js';
import { DiscordIds, FakeDiscord } from '../fakes/discord-server.js';
import { testLogger } from '../support/siteflow.js';

const env = inject('siteflowTestEnv');
let fake: FakeDiscord;
let app: SiteFlow;
let dir: string;
let locker: ChildProcess | undefined;

/**
 * Starts a process that holds BEGIN EXCLUSIVE on `file` until its stdin is closed; resolves once
 * it has the lock. The test decides when the lock goes, not a timer.
 */
function holdLock(file: string): Promise<ChildProcess> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    process.stdin.resume();
    process.stdin.on('end', () => { db.exec('COMMIT'); db.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script, file], {
    cwd: REPO_DIR,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('locked')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
}

beforeAll(async () => {
  fake = await new FakeDiscord({ heartbeatIntervalMs: 300 }).start();
  dir = mkdtempSync(join(tmpdir(), 'sf-dlock-'));
  const config = loadConfig(
    {
      DATA_DIR: join(dir, 'data'),
      SITES_ROOT: join(dir, 'sites'),
      WEB_PORT: '0',
      DOCKER_HOSTS: env.dockerHost,
      MONITOR_ENABLED: 'false',
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_ID: DiscordIds.guild,
    },
    { envFile: null },
  );
  app = await startSiteFlow(config, { logger: testLogger(), console: false });
});

afterAll(async () => {
  locker?.kill();
  await app?.stop('test done');
  await fake?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SQLite locked by another process', () => {
  it('/status is acknowledged within 3 s and answered; its audit rows land after the lock', async () => {
    locker = await holdLock(join(dir, 'data', 'siteflow.db'));
    const exited = new Promise<void>((r) => locker!.on('exit', () => r()));
    const recs = [];
    for (let i = 0; i < 3; i++) {
      const rec = fake.slashCommand({ name: 'status', options: {}, user: DiscordIds.bob });
      recs.push(rec);
      await fake.waitFor(() => rec.ackedAt, 3000, `ack ${i}`);
      expect(rec.ackLatencyMs!).toBeLessThan(3000);
      await fake.waitFor(() => rec.replyContent, 3000, `reply ${i}`);
    }
    expect(recs.every((r) => /site|No sites/.test(r.replyContent ?? ''))).toBe(true);
    const rows = () => app.services.audit.query({ action: 'status', actorId: DiscordIds.bob }).entries;
    // Still locked: nothing could be written yet (the rows are held, not lost).
    expect(locker.exitCode).toBeNull();
    expect(rows()).toHaveLength(0);
    locker.stdin!.end();
    await exited;
    await waitFor('held audit rows written', () => rows().length === 3, 15_000);
  }, 60_000);
});
