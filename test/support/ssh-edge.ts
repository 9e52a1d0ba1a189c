/**
 * The remote host "edge" of the ssh:// tests: a second dockerd whose socket only the sshd test
 * user's group can open, a real sshd on loopback for that user, and a folder tree owned by that
 * user standing in for edge's disk (its SITES_ROOTS). SiteFlow gets no direct way to the socket.
 * `isolate()` gives SiteFlow an empty HOME and an `ssh` on PATH that records any call, so no system
 * ssh and no known_hosts can be consulted.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type SshdHandle, startSshd, type TestEnvState } from '../env/harness.js';
import { type SecondEngine, startSecondEngine } from '../env/second-engine.js';

/** A running edge host. */
export interface SshEdge {
  sshd: SshdHandle;
  engine: SecondEngine;
  /** edge's folder tree, owned by the ssh user. */
  root: string;
  /** The ssh user's uid. */
  uid: number;
  /** The empty HOME SiteFlow runs with once isolated. */
  home: string;
  /** Where the recording `ssh` lives. */
  bin: string;
  /** Configuration naming edge over SSH with `pin` as its pinned host key (SITES_ROOTS = root). */
  env(pin?: string): Record<string, string>;
  /** Gives `path` to the ssh user (it stands for a file on edge). */
  own(path: string): void;
  /** True once anything ran the system `ssh`. */
  sshCalled(): boolean;
  /** Empty HOME, recording `ssh` first on PATH (for SiteFlows started from now on). */
  isolate(): void;
  /** Undoes isolate(), stops the engine and sshd and removes the folders. */
  stop(): Promise<void>;
}

/** Starts edge; see the module comment. */
export async function startSshEdge(
  env: TestEnvState,
  opts: { sshdLogLevel?: 'INFO' | 'DEBUG1' } = {},
): Promise<SshEdge> {
  const saved = { HOME: process.env.HOME, PATH: process.env.PATH };
  const home = mkdtempSync(join(tmpdir(), 'sf-ssh-home-'));
  const bin = mkdtempSync(join(tmpdir(), 'sf-ssh-bin-'));
  writeFileSync(join(bin, 'ssh'), `#!/bin/sh\necho "$@" >> ${join(bin, 'ssh-called')}\nexit 255\n`);
  chmodSync(join(bin, 'ssh'), 0o755);
  const sshd = await startSshd(env, opts.sshdLogLevel ? { logLevel: opts.sshdLogLevel } : {});
  const engine = await startSecondEngine(env, { socketGroup: sshd.user });
  const uid = Number((await run('id', ['-u', sshd.user])).stdout.trim());
  const root = mkdtempSync(join(tmpdir(), 'sf-edge-tree-'));
  chmodSync(root, 0o755);
  chownSync(root, uid, -1);
  let isolated = false;
  return {
    sshd,
    engine,
    root,
    uid,
    home,
    bin,
    env: (pin = sshd.hostKeyFingerprint) => ({
      DOCKER_HOSTS: `local=${env.dockerHost},edge=ssh://${sshd.user}@127.0.0.1:${sshd.port}?socket=${engine.socketPath}`,
      DOCKER_SSH_HOST_KEYS: `edge=${pin}`,
      DOCKER_SSH_KEY_PATH: sshd.privateKeyPath,
      SITES_ROOTS: `edge=${root}`,
    }),
    own: (path) => chownSync(path, uid, -1),
    sshCalled: () => existsSync(join(bin, 'ssh-called')),
    isolate() {
      isolated = true;
      process.env.HOME = home;
      process.env.PATH = `${bin}:${saved.PATH}`;
    },
    async stop() {
      if (isolated) {
        process.env.HOME = saved.HOME;
        process.env.PATH = saved.PATH;
      }
      await engine.stop();
      await sshd.stop();
      rmSync(home, { recursive: true, force: true });
      rmSync(bin, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
