/**
 * The known_hosts SiteFlow writes for compose over ssh:// (DOCKER_SSH_KNOWN_HOSTS): against a real
 * sshd on loopback, the pinned key gets a line and the real openssh client then logs in with
 * StrictHostKeyChecking=yes; a host whose pinned key is not offered gets none and ssh refuses it.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeKnownHosts } from '../../../src/docker/known-hosts.js';
import { run, type SshdHandle, startSshd, tempDir } from '../../env/harness.js';

const env = inject('siteflowTestEnv');
let sshd: SshdHandle;
let dir: string;

beforeAll(async () => {
  sshd = await startSshd(env);
  dir = tempDir('knownhosts');
});
afterAll(async () => {
  await sshd?.stop();
});

function sshTrue(knownHosts: string) {
  return run('ssh', [
    '-F',
    '/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-i',
    sshd.privateKeyPath,
    '-p',
    String(sshd.port),
    `${sshd.user}@127.0.0.1`,
    'true',
  ]);
}

describe('known_hosts for compose over ssh', () => {
  it('writes only the pinned key (mode 0600), and openssh then connects with strict checking', async () => {
    const file = join(dir, 'ok', 'known_hosts');
    const r = await writeKnownHosts(file, [
      { name: 'edge', host: '127.0.0.1', port: sshd.port, fingerprint: sshd.hostKeyFingerprint },
    ]);
    expect(r).toEqual({ written: ['edge'], missing: [] });
    const text = readFileSync(file, 'utf8');
    const [type, b64] = sshd.hostPublicKey.split(' ');
    expect(text).toBe(`[127.0.0.1]:${sshd.port} ${type} ${b64}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await sshTrue(file);
  });

  it('a changed key (another pin) gets no line: ssh refuses the host', async () => {
    const file = join(dir, 'bad', 'known_hosts');
    const r = await writeKnownHosts(file, [
      { name: 'edge', host: '127.0.0.1', port: sshd.port, fingerprint: `SHA256:${'A'.repeat(43)}` },
    ]);
    expect(r.written).toEqual([]);
    expect(r.missing).toEqual([{ name: 'edge', reason: 'the host does not offer the pinned key' }]);
    expect(readFileSync(file, 'utf8')).toBe('');
    await expect(sshTrue(file)).rejects.toThrow(/Host key verification failed/);
  });
});
