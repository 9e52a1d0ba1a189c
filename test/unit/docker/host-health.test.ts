import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { SiteFlowError } from '../../../src/core/errors.js';
import { measureHost, parseRemoteHealth, remoteHealthCommand } from '../../../src/docker/host-health.js';

/** What a host's login shell prints for the command (a real /bin/sh here). */
function throughSh(command: string): string {
  return execFileSync('/bin/sh', ['-c', command], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' },
  });
}

describe('remote host health: the exec command and its parser', () => {
  it('reads df, meminfo and loadavg through a real /bin/sh, quoting hostile paths, and parses them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-health-'));
    try {
      const marker = join(dir, 'pwned');
      // A folder not made yet, with shell syntax in its name: measured on its parent's filesystem.
      const hostile = join(dir, `x'; touch ${marker}; '$(touch ${marker})\`touch ${marker}\``);
      const out = throughSh(remoteHealthCommand([dir, hostile]));
      expect(existsSync(marker)).toBe(false);
      const f = parseRemoteHealth(out, 2);
      const s = statfsSync(dir);
      for (const d of f.disks) {
        expect(d).not.toBeInstanceOf(Error);
        if (d instanceof Error) continue;
        expect(d.totalBytes).toBe(s.blocks * s.bsize);
        // Used = blocks - bfree, as statfs gives it here (a few KB may change in between).
        expect(Math.abs(d.usedBytes - (s.blocks - s.bfree) * s.bsize)).toBeLessThan(64 * 1024 * 1024);
        expect(d.fsId).toMatch(/^mount:\//);
      }
      expect(f.memory).toMatchObject({ totalBytes: os.totalmem() });
      expect(f.load).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses mount points with spaces and long filesystem names, and names what it could not read', () => {
    const out = [
      '@@siteflow:df:0',
      'Filesystem     1024-blocks     Used Available Capacity Mounted on',
      '/dev/mapper/vg0-a-very-long-logical-volume-name 1000000 910000 90000 91% /srv/my sites',
      '@@siteflow:df:1',
      "df: '/nope': No such file or directory",
      '@@siteflow:meminfo',
      'MemTotal:        2048000 kB',
      'MemFree:          100000 kB',
      'MemAvailable:     512000 kB',
      '@@siteflow:loadavg',
      '0.52 0.61 0.70 2/345 12345',
    ].join('\n');
    const f = parseRemoteHealth(out, 2);
    expect(f.disks[0]).toEqual({
      totalBytes: 1000000 * 1024,
      usedBytes: 910000 * 1024,
      fsId: 'mount:/srv/my sites',
    });
    expect(f.disks[1]).toBeInstanceOf(Error);
    expect((f.disks[1] as Error).message).toBe("df: df: '/nope': No such file or directory");
    expect(f.memory).toEqual({ totalBytes: 2048000 * 1024, usedBytes: (2048000 - 512000) * 1024 });
    expect(f.load).toEqual([0.52, 0.61, 0.7]);
  });

  it('never throws on garbage: every part is an Error naming what is missing', () => {
    for (const out of [
      '',
      'garbage\n\u001b[31mred\n',
      '@@siteflow:meminfo\ncat: /proc/meminfo: No such file\n@@siteflow:loadavg\nnan',
    ]) {
      const f = parseRemoteHealth(out, 1);
      expect(f.disks[0]).toBeInstanceOf(Error);
      expect(f.memory).toBeInstanceOf(Error);
      expect(f.load).toBeInstanceOf(Error);
      for (const e of [f.disks[0], f.memory, f.load] as Error[]) expect(e.message).not.toMatch(/\u001b/);
    }
    const f = parseRemoteHealth('@@siteflow:meminfo\ncat: /proc/meminfo: No such file\n', 0);
    expect((f.memory as Error).message).toBe('/proc/meminfo: cat: /proc/meminfo: No such file');
    expect((f.load as Error).message).toBe('/proc/loadavg: no answer');
  });
});

describe('measureHost with stand-ins for the engine and the OS reader', () => {
  // As SshConnection fails: DOCKER_UNREACHABLE with its state, in different words.
  const unreachable = (message: string) =>
    new SiteFlowError('DOCKER_UNREACHABLE', message, { host: 'edge', sshState: 'unreachable' });
  const lost = unreachable('host edge: host unreachable: the SSH connection to u@h:22 was lost');
  const refused = unreachable('host edge: host unreachable: SSH to u@h:22 failed (ECONNREFUSED)');
  const engine = (info: () => Promise<unknown>, df: () => Promise<unknown>) =>
    ({ info, df, modem: { host: 'h', protocol: 'ssh' } }) as unknown as Dockerode;

  it('an unreachable host is one problem naming every part, even when the parts saw it in different words', async () => {
    const h = await measureHost(
      'edge',
      engine(
        () => Promise.reject(lost),
        () => Promise.reject(refused),
      ),
      {
        sitesRoot: '/srv/sites',
        now: 0,
        os: { source: 'ssh', read: () => Promise.reject(refused) },
      },
    );
    expect(h.problems).toHaveLength(1);
    for (const part of ['engine info', 'system df', 'docker disk', 'sites disk', 'memory', 'load'])
      expect(h.problems[0]).toContain(part);
    expect(h.problems[0]).toMatch(/: host edge: host unreachable: /);
  });

  it('different reasons stay different problems', async () => {
    const h = await measureHost(
      'edge',
      engine(
        () => Promise.resolve({ DockerRootDir: '/var/lib/docker' }),
        () => Promise.reject(new Error('df: permission denied')),
      ),
      {
        sitesRoot: null,
        now: 0,
        os: {
          source: 'ssh',
          read: () =>
            Promise.resolve({
              disks: [{ totalBytes: 100, usedBytes: 50, fsId: 'a' }],
              memory: new Error('no /proc/meminfo'),
              load: [0.5, 0.4, 0.3],
            }),
        },
      },
    );
    expect(h.problems).toEqual(['system df: df: permission denied', 'memory: no /proc/meminfo']);
    expect(h.disks).toHaveLength(1);
  });
});
