/**
 * /backup through the console of a real SiteFlow (startTestSiteFlow) whose NAS_* settings
 * point at a private sshd on loopback: fresh, stale and missing sites (from SITES_ROOT folders
 * and NAS_BACKUP_MAP), the live state's backup slot, the last known state after a restart, a
 * wrong host key, a wrong user key and a closed port; and no secret in any log line,
 * the chat transcript or the database.
 */
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, run, type SshdHandle, startSshd, tempDir } from '../../env/harness.js';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const env = inject('siteflowTestEnv');
const HOUR = 3_600_000;
const PASSWORD = 'Nas-Pa55word-never-shown-7731';

let sshd: SshdHandle;
let dir: string;
let root: string;
let otherKey: string;
let otherFingerprint: string;
const logs: string[] = [];
const transcripts: string[] = [];

function backupFile(path: string, bytes: number, ageMs: number): void {
  writeFileSync(path, Buffer.alloc(bytes, 1));
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
}

function site(name: string): void {
  mkdirSync(join(dir, 'sites', name), { recursive: true });
  writeFileSync(join(dir, 'sites', name, 'compose.yaml'), 'services: {}\n');
}

function nasEnv(over: Record<string, string> = {}): Record<string, string> {
  return {
    DOCKER_HOSTS: env.dockerHost,
    NAS_HOST: sshd.host,
    NAS_PORT: String(sshd.port),
    NAS_USER: sshd.user,
    NAS_PRIVATE_KEY_PATH: sshd.privateKeyPath,
    NAS_PASSWORD: PASSWORD,
    NAS_HOST_KEY: sshd.hostKeyFingerprint,
    NAS_BACKUP_ROOT: root,
    NAS_BACKUP_MAP: `bk-mapped=${root}/elsewhere/mapped-www`,
    NAS_CONNECT_TIMEOUT_SECONDS: '5',
    ...over,
  };
}

/** Starts SiteFlow on the shared data dir, runs `fn`, and always stops it and keeps its output. */
async function withSiteFlow(over: Record<string, string>, fn: (sf: TestSiteFlow) => Promise<void>) {
  const sf = await startTestSiteFlow(nasEnv(over), { dir });
  try {
    await fn(sf);
  } finally {
    await sf.stop();
    logs.push(...sf.logLines);
    transcripts.push(sf.driver.transcript);
  }
}

beforeAll(async () => {
  sshd = await startSshd(env);
  root = join(sshd.homeDir, 'backups');
  mkdirSync(join(root, 'bk-fresh'), { recursive: true });
  backupFile(join(root, 'bk-fresh', 'site-2026.tar.gz'), 3 * 1024 * 1024, 2 * HOUR);
  mkdirSync(join(root, 'bk-stale'));
  backupFile(join(root, 'bk-stale', 'site-old.tar.gz'), 1024, 50 * HOUR);
  mkdirSync(join(root, 'bk-empty'));
  mkdirSync(join(root, 'elsewhere', 'mapped-www'), { recursive: true });
  backupFile(join(root, 'elsewhere', 'mapped-www', 'www.tar'), 10, HOUR);
  dir = tempDir('backup-cmd');
  for (const name of ['bk-fresh', 'bk-stale', 'bk-empty', 'bk-absent']) site(name);

  const keygen = env.tools.sshKeygen ?? 'ssh-keygen';
  otherKey = join(tempDir('backup-keys'), 'other');
  await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
  otherFingerprint = (await run(keygen, ['-lf', `${otherKey}.pub`])).stdout.trim().split(/\s+/)[1]!;
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
});

describe('/backup through the console', () => {
  it('shows fresh, stale and missing sites, one site in detail, and fills the live state', async () => {
    await withSiteFlow({}, async ({ driver, app }) => {
      const all = await driver.type('/backup', /Backups (of|not)[^\n]*\n[\s\S]*bk-stale/, 30_000);
      expect(all).toMatch(/bk-fresh\s+fresh\s+2h ago/);
      expect(all).toMatch(/bk-stale\s+STALE\s+2d ago/);
      expect(all).toMatch(/bk-empty\s+MISSING/);
      expect(all).toMatch(/bk-absent\s+MISSING/);
      expect(all).toMatch(/bk-mapped\s+fresh/);
      expect(all).toContain(`${root}/elsewhere/mapped-www`);
      expect(all).toContain('3.0 MB');

      const stale = await driver.type('/backup bk-stale', /bk-stale: backup/, 30_000);
      expect(stale).toContain('bk-stale: backup STALE');
      expect(stale).toContain('site-old.tar.gz');
      expect(stale).toMatch(/older than 26 h/);

      const absent = await driver.type('/backup bk-absent', /bk-absent: backup/, 30_000);
      expect(absent).toContain('MISSING');
      expect(absent).toContain(`no backup folder ${root}/bk-absent`);

      const unknown = await driver.type('/backup no-such-site', /No site/, 30_000);
      expect(unknown).toContain('No site "no-such-site"');

      expect(app.live.site('local', 'bk-fresh')?.backup).toMatchObject({
        state: 'fresh',
        sizeBytes: 3 * 1024 * 1024,
      });
      expect(app.live.site('local', 'bk-stale')?.backup?.state).toBe('stale');
      expect(app.live.site('local', 'bk-absent')?.backup?.state).toBe('missing');
    });
  }, 90_000);

  it('refuses a changed host key, keeping the last known backups from before the restart', async () => {
    await withSiteFlow({ NAS_HOST_KEY: otherFingerprint }, async ({ driver, app }) => {
      const out = await driver.type('/backup', /Backups not checked/, 30_000);
      expect(out).toContain('Backups not checked: NAS host key mismatch');
      expect(out).toContain(`presented host key ${sshd.hostKeyFingerprint}`);
      expect(out).toContain(`NAS_HOST_KEY pins ${otherFingerprint}`);
      // The newest backup known from the first run survived the restart (SQLite).
      expect(out).toMatch(/bk-fresh\s+NAS host key mismatch\s+2h ago/);
      const one = await driver.type('/backup bk-fresh', /bk-fresh: backup/, 30_000);
      expect(one).toContain('host_key_mismatch');
      expect(one).toContain('site-2026.tar.gz');
      expect(app.live.site('local', 'bk-fresh')?.backup?.state).toBe('error');
    });
  }, 90_000);

  it('says the NAS refused the login for a wrong user key', async () => {
    await withSiteFlow({ NAS_PRIVATE_KEY_PATH: otherKey, NAS_PASSWORD: '' }, async ({ driver }) => {
      const out = await driver.type('/backup', /Backups not checked/, 30_000);
      expect(out).toContain('Backups not checked: NAS login refused');
      expect(out).toContain(`refused user ${sshd.user}`);
      const one = await driver.type('/backup bk-stale', /bk-stale: backup/, 30_000);
      expect(one).toContain('auth_failed');
    });
  }, 90_000);

  it('says the NAS is unreachable on a closed port', async () => {
    const port = await freePort();
    await withSiteFlow({ NAS_PORT: String(port) }, async ({ driver }) => {
      const out = await driver.type('/backup', /Backups not checked/, 30_000);
      expect(out).toContain('Backups not checked: NAS unreachable');
      expect(out).toContain(`cannot connect to 127.0.0.1:${port}`);
    });
  }, 90_000);

  it('never shows the password or the private key anywhere', () => {
    expect(logs.length).toBeGreaterThan(10);
    expect(logs.join('')).toMatch(/backup check/);
    const keyBody = readFileSync(sshd.privateKeyPath, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'));
    const otherBody = readFileSync(otherKey, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'));
    const dataDir = join(dir, 'data');
    const dbText = readdirSync(dataDir)
      .filter((f) => f.startsWith('siteflow.db'))
      .map((f) => readFileSync(join(dataDir, f)).toString('latin1'))
      .join('');
    for (const [what, text] of [
      ['log', logs.join('')],
      ['chat', transcripts.join('')],
      ['database', dbText],
    ] as const) {
      expect(text.includes(PASSWORD), `${what} holds the password`).toBe(false);
      for (const line of [...keyBody, ...otherBody])
        expect(text.includes(line), `${what} holds private key material`).toBe(false);
    }
  });
});
