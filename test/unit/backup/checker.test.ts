/**
 * BackupChecker with a real SQLite store and live state, and a scripted probe: which sites are
 * checked, what is stored and restored after a restart, what the live state and the alert sink
 * see, change events; and the NAS_* settings and config keys.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BackupChecker } from '../../../src/backup/backup-checker.js';
import { createBackupChecks, nasSettings } from '../../../src/backup/backup-checks.js';
import { loadConfig } from '../../../src/config.js';
import type { BackupChange, BackupProbe, BackupTarget, ProbeResult } from '../../../src/core/backup.js';
import type { Engine, HostRegistry, SiteInfo } from '../../../src/core/engine.js';
import { LiveState } from '../../../src/core/live-state.js';
import { type OpenDatabase, openDatabase } from '../../../src/db/database.js';
import { SqliteBackupStore } from '../../../src/db/sqlite-backup-store.js';
import { freePort, waitFor } from '../../env/harness.js';
import { testLogger } from '../../support/siteflow.js';

const HOUR = 3_600_000;
let now = Date.UTC(2026, 0, 15, 12);
const clock = { now: () => now };

function site(host: string, name: string): SiteInfo {
  return {
    host,
    name,
    state: 'up',
    projectDir: null,
    composeFiles: [],
    containers: [],
  } as unknown as SiteInfo;
}

/** Hosts whose listSites answers from a table (or throws when the host is "down"). */
function hostsOf(table: Record<string, string[] | 'down'>): HostRegistry {
  return {
    names: () => Object.keys(table),
    get: (h) =>
      ({
        name: h,
        listSites: async () => {
          const v = table[h];
          if (v === 'down') throw new Error('engine down');
          return (v ?? []).map((n) => site(h, n));
        },
      }) as unknown as Engine,
    composeEnv: () => ({}),
    sitesRootHost: () => Object.keys(table)[0]!,
  };
}

/** A probe answering from a per-folder script; records what it was asked. */
class ScriptedProbe implements BackupProbe {
  asked: string[][] = [];
  failure: ProbeResult | null = null;
  constructor(public folders: Record<string, number | null | 'absent'>) {}
  async probe(targets: readonly BackupTarget[]): Promise<ProbeResult> {
    this.asked.push(targets.map((t) => `${t.site}@${t.path}`));
    if (this.failure) return this.failure;
    const m = new Map();
    for (const t of targets) {
      const v = this.folders[t.path];
      m.set(
        t.site,
        v === undefined || v === 'absent'
          ? { kind: 'absent' }
          : {
              kind: 'scanned',
              backups: v === null ? 0 : 1,
              truncated: false,
              newest: v === null ? null : { name: 'x.tar', at: v, sizeBytes: 10, files: 1 },
            },
      );
    }
    return { ok: true, folders: m };
  }
}

let db: OpenDatabase;
afterEach(() => db?.close());

function setup(hosts: HostRegistry, probe: BackupProbe, map = new Map<string, string>()) {
  db ??= openDatabase(':memory:');
  const live = new LiveState({ hosts: hosts.names(), siteState: () => 'up', clock });
  const changes: BackupChange[] = [];
  const alerts: string[] = [];
  const checker = new BackupChecker({
    probe,
    hosts,
    root: '/nas/backups',
    map,
    staleAfterMs: 26 * HOUR,
    store: new SqliteBackupStore(db.db),
    state: live,
    clock,
    logger: testLogger(),
    onChange: (c) => changes.push(c),
    alerts: { backupChanged: (h, s, st) => alerts.push(`${h}/${s}:${st}`) },
  });
  return { checker, live, changes, alerts };
}

describe('BackupChecker', () => {
  it('checks every site of every host plus mapped ones, stores and publishes the results', async () => {
    db = openDatabase(':memory:');
    const probe = new ScriptedProbe({
      '/nas/backups/blog': now - HOUR,
      '/nas/backups/shop': now - 30 * HOUR,
      '/elsewhere/wiki': null,
    });
    const hosts = hostsOf({ local: ['blog', 'shop'], edge: ['blog', 'api'] });
    const { checker, live, changes, alerts } = setup(hosts, probe, new Map([['wiki', '/elsewhere/wiki']]));
    live.replaceHostSites('local', [site('local', 'blog'), site('local', 'shop')]);
    live.replaceHostSites('edge', [site('edge', 'blog'), site('edge', 'api')]);

    const report = await checker.check();
    expect(probe.asked).toEqual([
      ['api@/nas/backups/api', 'blog@/nas/backups/blog', 'shop@/nas/backups/shop', 'wiki@/elsewhere/wiki'],
    ]);
    expect(report?.results.map((r) => `${r.site}:${r.state}:${r.hosts.join('+')}`)).toEqual([
      'api:missing:edge',
      'blog:fresh:edge+local',
      'shop:stale:local',
      'wiki:missing:',
    ]);
    expect(live.site('local', 'blog')?.backup).toMatchObject({
      state: 'fresh',
      newestAt: now - HOUR,
      sizeBytes: 10,
    });
    expect(live.site('edge', 'blog')?.backup?.state).toBe('fresh');
    expect(live.site('local', 'shop')?.backup?.state).toBe('stale');
    expect(changes.map((c) => `${c.current.site}:${c.previous?.state ?? null}->${c.current.state}`)).toEqual([
      'api:null->missing',
      'blog:null->fresh',
      'shop:null->stale',
      'wiki:null->missing',
    ]);
    expect(alerts).toEqual([
      'edge/api:missing',
      'edge/blog:fresh',
      'local/blog:fresh',
      'local/shop:stale',
      'nas/wiki:missing',
    ]);

    // Same states again: no change events, but the alert sink hears every result.
    changes.length = 0;
    await checker.check();
    expect(changes).toEqual([]);
    expect(alerts).toHaveLength(10);

    // Only one site on demand.
    const one = await checker.check('shop');
    expect(one?.results.map((r) => r.site)).toEqual(['shop']);
    expect(await checker.check('nope')).toBeNull();
  });

  it('keeps the last known backup when the NAS fails, and restores everything after a restart', async () => {
    db = openDatabase(':memory:');
    const probe = new ScriptedProbe({ '/nas/backups/blog': now - HOUR });
    const hosts = hostsOf({ local: ['blog'] });
    const first = setup(hosts, probe);
    first.live.replaceHostSites('local', [site('local', 'blog')]);
    await first.checker.check();

    now += HOUR;
    probe.failure = { ok: false, failure: { state: 'auth_failed', message: 'the NAS refused user backup' } };
    const failed = await first.checker.check();
    expect(failed?.failure?.state).toBe('auth_failed');
    expect(failed?.results[0]).toMatchObject({
      state: 'auth_failed',
      newestAt: now - 2 * HOUR,
      sizeBytes: 10,
    });
    expect(first.changes.at(-1)).toMatchObject({
      previous: { state: 'fresh' },
      current: { state: 'auth_failed' },
    });
    expect(first.live.site('local', 'blog')?.backup).toMatchObject({
      state: 'error',
      message: 'auth_failed: the NAS refused user backup',
    });

    // "Restart": a new checker and live state on the same database.
    const second = setup(hosts, probe);
    second.live.replaceHostSites('local', [site('local', 'blog')]);
    expect(second.checker.last()).toEqual([]);
    second.checker.restore();
    expect(second.checker.last().map((r) => `${r.site}:${r.state}`)).toEqual(['blog:auth_failed']);
    expect(second.live.site('local', 'blog')?.backup?.state).toBe('error');
  });

  it('checks the sites of an unreachable Docker host as of the last check', async () => {
    db = openDatabase(':memory:');
    const probe = new ScriptedProbe({ '/nas/backups/blog': now });
    const table: Record<string, string[] | 'down'> = { local: ['blog'] };
    const { checker } = setup(hostsOf(table), probe);
    await checker.check();
    table.local = 'down';
    const r = await checker.check();
    expect(r?.unlistedHosts).toEqual(['local']);
    expect(r?.results.map((x) => `${x.site}:${x.state}`)).toEqual(['blog:fresh']);
  });

  it('joins a full check that is already running instead of starting another', async () => {
    db = openDatabase(':memory:');
    const probe = new ScriptedProbe({});
    const { checker } = setup(hostsOf({ local: ['blog'] }), probe);
    const [a, b] = await Promise.all([checker.check(), checker.check()]);
    expect(a).toBe(b);
    expect(probe.asked).toHaveLength(1);
  });
});

describe('NAS settings', () => {
  const base = {
    NAS_HOST: '127.0.0.1',
    NAS_USER: 'backup',
    NAS_PASSWORD: 'hunter2-secret',
    NAS_HOST_KEY: `SHA256:${'A'.repeat(43)}`,
    NAS_BACKUP_ROOT: '/volume1/backups',
  };
  const cfg = (env: Record<string, string>) => loadConfig(env, { envFile: null });

  it('is off without NAS_HOST, with the reason', () => {
    expect(nasSettings(cfg({}))).toMatchObject({ enabled: false, problems: [] });
  });

  it('is on with host, user, a credential, the host key and a root; the password is a secret', () => {
    const c = cfg(base);
    expect(c.secrets).toContain('hunter2-secret');
    const s = nasSettings(c);
    expect(s).toMatchObject({
      enabled: true,
      root: '/volume1/backups',
      staleAfterMs: 26 * HOUR,
      cron: '7 * * * *',
      probe: { host: '127.0.0.1', port: 22, username: 'backup', connectTimeoutMs: 15_000 },
    });
  });

  it('lists what is missing', () => {
    const s = nasSettings(cfg({ NAS_HOST: 'nas.lan' }));
    expect(s.enabled).toBe(false);
    if (s.enabled) return;
    expect(s.problems.join('\n')).toMatch(
      /NAS_USER[\s\S]*NAS_PASSWORD[\s\S]*NAS_HOST_KEY[\s\S]*NAS_BACKUP_ROOT/,
    );
  });

  it('rejects bad keys at load time, all at once', () => {
    expect(() =>
      cfg({
        ...base,
        NAS_HOST_KEY: 'MD5:aa:bb',
        NAS_BACKUP_MAP: 'blog=relative',
        NAS_CHECK_CRON: 'every hour',
        NAS_STALE_THRESHOLD_HOURS: '-1',
      }),
    ).toThrow(
      /NAS_HOST_KEY[\s\S]*NAS_BACKUP_MAP: blog: "relative"[\s\S]*NAS_STALE_THRESHOLD_HOURS[\s\S]*NAS_CHECK_CRON/,
    );
  });

  it('accepts a map with fractional stale hours and a custom schedule', () => {
    const s = nasSettings(
      cfg({
        ...base,
        NAS_BACKUP_MAP: 'blog=/v/b',
        NAS_STALE_THRESHOLD_HOURS: '1.5',
        NAS_CHECK_CRON: '*/5 * * * *',
      }),
    );
    expect(s).toMatchObject({ enabled: true, staleAfterMs: 1.5 * HOUR, cron: '*/5 * * * *' });
    if (s.enabled) expect([...s.map]).toEqual([['blog', '/v/b']]);
  });
});

describe('createBackupChecks', () => {
  it('runs checks on the NAS_CHECK_CRON schedule and stores them (a closed loopback port: unreachable)', async () => {
    db = openDatabase(':memory:');
    const port = await freePort();
    const config = loadConfig(
      {
        NAS_HOST: '127.0.0.1',
        NAS_PORT: String(port),
        NAS_USER: 'backup',
        NAS_PASSWORD: 'pw-for-schedule-test',
        NAS_HOST_KEY: `SHA256:${'A'.repeat(43)}`,
        NAS_BACKUP_ROOT: '/volume1/backups',
        NAS_CHECK_CRON: '* * * * * *',
      },
      { envFile: null },
    );
    const checks = createBackupChecks({
      config,
      db: db.db,
      hosts: hostsOf({ local: ['blog'] }),
      clock: { now: () => Date.now() },
      logger: testLogger(),
      checkOnStart: false,
    });
    expect(checks.service.disabled).toBeNull();
    checks.start();
    try {
      await waitFor('a scheduled check', () => new SqliteBackupStore(db.db).all().length > 0, 10_000);
    } finally {
      await checks.stop();
    }
    const [r] = new SqliteBackupStore(db.db).all();
    expect(r).toMatchObject({ site: 'blog', path: '/volume1/backups/blog', state: 'unreachable' });
    expect(r?.message).toContain(`127.0.0.1:${port}`);
  });

  it('is a disabled service that says why when NAS_HOST is unset', async () => {
    db = openDatabase(':memory:');
    const checks = createBackupChecks({
      config: loadConfig({}, { envFile: null }),
      db: db.db,
      hosts: hostsOf({}),
      clock,
      logger: testLogger(),
    });
    checks.start();
    expect(checks.checker).toBeNull();
    expect(checks.service.disabled).toMatch(/NAS_HOST is not set/);
    await checks.stop();
  });
});
