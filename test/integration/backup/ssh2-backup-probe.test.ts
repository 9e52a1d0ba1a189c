/**
 * Ssh2BackupProbe against a real sshd (harness startSshd) on loopback: fresh, stale, missing
 * and unreadable folders told apart over SFTP; a wrong host key, a wrong user key, a refused
 * password, a closed port and a silent port each give their own state.
 */
import { chmodSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Ssh2BackupProbe, sha256Fingerprint } from '../../../src/backup/ssh2-backup-probe.js';
import { type BackupTarget, classifyBackup, type ProbeResult } from '../../../src/core/backup.js';
import { freePort, run, type SshdHandle, startSshd, tempDir } from '../../env/harness.js';

const env = inject('siteflowTestEnv');
const HOUR = 3_600_000;

let sshd: SshdHandle;
let root: string;
let otherKey: string;
let otherHostFingerprint: string;

function backupFile(path: string, bytes: number, ageMs: number): void {
  writeFileSync(path, Buffer.alloc(bytes, 7));
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
}

const targets = (...sites: string[]): BackupTarget[] =>
  sites.map((site) => ({ site, path: `${root}/${site}`, hosts: ['local'] }));

function probe(over: Partial<ConstructorParameters<typeof Ssh2BackupProbe>[0]> = {}) {
  return new Ssh2BackupProbe({
    host: sshd.host,
    port: sshd.port,
    username: sshd.user,
    privateKeyPath: sshd.privateKeyPath,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    connectTimeoutMs: 5000,
    ...over,
  });
}

function failure(r: ProbeResult) {
  if (r.ok) throw new Error(`expected a failure, got folders ${[...r.folders.keys()].join(', ')}`);
  return r.failure;
}

beforeAll(async () => {
  sshd = await startSshd(env);
  root = join(sshd.homeDir, 'backups');
  mkdirSync(join(root, 'fresh', '2026-01-15', 'db'), { recursive: true });
  backupFile(join(root, 'fresh', 'old.tar.gz'), 100, 80 * HOUR);
  backupFile(join(root, 'fresh', '2026-01-15', 'files.tar'), 2000, 3 * HOUR);
  backupFile(join(root, 'fresh', '2026-01-15', 'db', 'dump.sql.gz'), 48, 2 * HOUR);
  mkdirSync(join(root, 'stale'));
  backupFile(join(root, 'stale', 'a.tar.gz'), 10, 72 * HOUR);
  backupFile(join(root, 'stale', 'b.tar.gz'), 20, 30 * HOUR);
  mkdirSync(join(root, 'empty', 'nothing-yet'), { recursive: true });
  mkdirSync(join(root, 'locked'));
  backupFile(join(root, 'locked', 'x.tar'), 1, HOUR);
  chmodSync(join(root, 'locked'), 0o000);

  const keys = tempDir('nas-keys');
  otherKey = join(keys, 'other');
  const keygen = env.tools.sshKeygen ?? 'ssh-keygen';
  await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
  const fp = (await run(keygen, ['-lf', `${otherKey}.pub`])).stdout.trim().split(/\s+/)[1]!;
  otherHostFingerprint = fp;
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
});

describe('Ssh2BackupProbe over a real sshd', () => {
  it('computes the host key fingerprint exactly as ssh-keygen -lf', () => {
    const blob = Buffer.from(sshd.hostPublicKey.split(/\s+/)[1]!, 'base64');
    expect(sha256Fingerprint(blob)).toBe(sshd.hostKeyFingerprint);
  });

  it('tells fresh, stale, missing (absent or empty) and unreadable folders apart', async () => {
    const ts = targets('fresh', 'stale', 'absent', 'empty', 'locked');
    const r = await probe().probe(ts);
    if (!r.ok) throw new Error(`probe failed: ${r.failure.state}: ${r.failure.message}`);
    const now = Date.now();
    const results = ts.map((t) =>
      classifyBackup(t, r.folders.get(t.site)!, { now, staleAfterMs: 26 * HOUR }),
    );
    expect(results.map((x) => `${x.site}:${x.state}`)).toEqual([
      'fresh:fresh',
      'stale:stale',
      'absent:missing',
      'empty:missing',
      'locked:error',
    ]);
    const [fresh, stale, absent, empty, locked] = results;
    expect(fresh).toMatchObject({ newestName: '2026-01-15', sizeBytes: 2048 });
    expect(Math.abs(fresh!.newestAt! - (now - 2 * HOUR))).toBeLessThan(60_000);
    expect(stale).toMatchObject({ newestName: 'b.tar.gz', sizeBytes: 20 });
    expect(Math.abs(stale!.newestAt! - (now - 30 * HOUR))).toBeLessThan(60_000);
    expect(absent!.message).toContain('no backup folder');
    expect(empty!.message).toContain('no backups');
    expect(locked!.message).toContain('permission denied');
  });

  it('refuses a host whose key does not match the pinned fingerprint', async () => {
    const f = failure(await probe({ hostKeyFingerprint: otherHostFingerprint }).probe(targets('fresh')));
    expect(f.state).toBe('host_key_mismatch');
    expect(f.message).toContain(sshd.hostKeyFingerprint);
    expect(f.message).toContain(otherHostFingerprint);
    expect(f.message).toMatch(/refusing/);
  });

  it('says auth_failed for a key the NAS does not accept, and for a refused password', async () => {
    const byKey = failure(await probe({ privateKeyPath: otherKey }).probe(targets('fresh')));
    expect(byKey.state).toBe('auth_failed');
    expect(byKey.message).toContain(sshd.user);
    const byPassword = failure(
      await probe({ privateKeyPath: undefined, password: 'not-the-password-0451' }).probe(targets('fresh')),
    );
    expect(byPassword.state).toBe('auth_failed');
    expect(byPassword.message).not.toContain('0451');
  });

  it('says unreachable for a closed port and for a port that never speaks SSH', async () => {
    const closed = failure(await probe({ port: await freePort() }).probe(targets('fresh')));
    expect(closed.state).toBe('unreachable');
    expect(closed.message).toMatch(/ECONNREFUSED/);

    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const f = failure(await probe({ port, connectTimeoutMs: 1500 }).probe(targets('fresh')));
      expect(f.state).toBe('unreachable');
      expect(f.message).toMatch(/no SSH answer/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('says error (not a crash) when the key file is unreadable', async () => {
    const f = failure(await probe({ privateKeyPath: join(root, 'no-such-key') }).probe(targets('fresh')));
    expect(f).toEqual({
      state: 'error',
      message: 'cannot read the NAS private key file NAS_PRIVATE_KEY_PATH (ENOENT)',
    });
  });
});
