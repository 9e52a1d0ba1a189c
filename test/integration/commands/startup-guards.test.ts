/**
 * Start-up guards of the real process: the page is never anonymous by accident (WEB_HOST off
 * loopback without WEB_TOKEN exits non-zero naming WEB_TOKEN and WEB_ALLOW_ANONYMOUS; with
 * WEB_ALLOW_ANONYMOUS=true it serves), one SiteFlow per DATA_DIR (a second exits non-zero naming
 * the first one's pid; the lock goes when the first stops), and the data folder is private
 * (DATA_DIR 0700, database and WAL 0600).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { REPO_DIR, waitFor } from '../../env/harness.js';

const env = inject('siteflowTestEnv');
const dirs: string[] = [];
const children: ChildProcess[] = [];

function spawnSiteFlow(dataDir: string, extra: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_DIR,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CONSOLE: 'off',
      DATA_DIR: dataDir,
      SITES_ROOT: join(dataDir, '..', 'sites'),
      WEB_PORT: '0',
      DOCKER_HOSTS: env.dockerHost,
      MONITOR_ENABLED: 'false',
      LOG_LEVEL: 'info',
      SITEFLOW_ENV_FILE: join(dataDir, '..', 'none.env'),
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stderr: () => err };
}

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sf-guard-'));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('start-up guards (real process)', () => {
  it('WEB_HOST=0.0.0.0 without WEB_TOKEN exits non-zero within 20 s, naming WEB_TOKEN and WEB_ALLOW_ANONYMOUS', async () => {
    const dir = freshDir();
    const t0 = Date.now();
    const p = spawnSiteFlow(join(dir, 'data'), { WEB_HOST: '0.0.0.0' });
    const code = await p.exited;
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(code).not.toBe(0);
    expect(p.stderr()).toMatch(/WEB_TOKEN/);
    expect(p.stderr()).toMatch(/WEB_ALLOW_ANONYMOUS/);
    // It did not get as far as a database.
    expect(existsSync(join(dir, 'data', 'siteflow.db'))).toBe(false);
  }, 30_000);

  it('with WEB_ALLOW_ANONYMOUS=true it serves; a second SiteFlow on its DATA_DIR exits naming its pid; files are private', async () => {
    const dir = freshDir();
    const data = join(dir, 'data');
    const first = spawnSiteFlow(data, { WEB_HOST: '0.0.0.0', WEB_ALLOW_ANONYMOUS: 'true' });
    const url = () => /"url":"http:\/\/0\.0\.0\.0:(\d+)"/.exec(first.stderr())?.[1];
    await waitFor('first instance serving', () => url() !== undefined, 30_000);
    const port = url()!;
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);

    const second = spawnSiteFlow(data, {});
    const code = await second.exited;
    expect(code).not.toBe(0);
    expect(second.stderr()).toContain(`pid ${first.child.pid}`);
    expect(first.child.exitCode).toBeNull();

    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(statSync(join(data, 'siteflow.db')).mode & 0o777).toBe(0o600);
    expect(statSync(join(data, 'siteflow.db-wal')).mode & 0o777).toBe(0o600);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(existsSync(join(data, 'siteflow.lock'))).toBe(false);
  }, 90_000);

  it('a lock left by a killed SiteFlow is stale: the next one starts', async () => {
    const dir = freshDir();
    const data = join(dir, 'data');
    const a = spawnSiteFlow(data, {});
    await waitFor('first up', () => a.stderr().includes('SiteFlow started'), 30_000);
    a.child.kill('SIGKILL');
    await a.exited;
    expect(existsSync(join(data, 'siteflow.lock'))).toBe(true);
    const b = spawnSiteFlow(data, {});
    await waitFor('second up', () => b.stderr().includes('SiteFlow started'), 30_000);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  }, 90_000);
});
