/**
 * A NAS that accepts SSH but never answers the SFTP subsystem request must not hang the check:
 * an in-process ssh2 Server on loopback plays that NAS.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ssh2BackupProbe } from '../../../src/backup/ssh2-backup-probe.js';
import { formatFingerprint } from '../../../src/core/backup.js';

const { Server, utils } = ssh2;

let server: InstanceType<typeof Server>;
let port = 0;
let fingerprint = '';
let sftpAsked = 0;

beforeAll(async () => {
  const host = utils.generateKeyPairSync('ed25519');
  const parsed = utils.parseKey(host.private);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  fingerprint = formatFingerprint(createHash('sha256').update(key.getPublicSSH()).digest('base64'));
  server = new Server({ hostKeys: [host.private] }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) =>
      ctx.method === 'password' ? ctx.accept() : ctx.reject(['password']),
    );
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        // Never accept nor reject the SFTP subsystem: the client waits for an answer.
        session.on('sftp', () => {
          sftpAsked++;
        });
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('Ssh2BackupProbe against a NAS that never opens SFTP', () => {
  it('reports unreachable after the connect timeout instead of hanging', async () => {
    const probe = new Ssh2BackupProbe({
      host: '127.0.0.1',
      port,
      username: 'backup',
      password: 'not-a-real-password',
      hostKeyFingerprint: fingerprint,
      connectTimeoutMs: 1_500,
    });
    const r = await probe.probe([{ site: 'blog', path: '/backups/blog', hosts: [] }]);
    expect(sftpAsked).toBe(1);
    expect(r).toMatchObject({ ok: false, failure: { state: 'unreachable' } });
    if (!r.ok) expect(r.failure.message).toMatch(/did not open SFTP within 2 s/);
  }, 20_000);
});
