/**
 * The known_hosts file for the openssh `ssh` that the docker CLI (and so compose) runs for ssh://
 * Docker hosts. SiteFlow pins host keys by fingerprint (DOCKER_SSH_HOST_KEYS); openssh needs the keys
 * themselves. At start SiteFlow asks each ssh:// host for its keys (`ssh-keyscan`), keeps only those
 * whose SHA256 fingerprint is the pinned one, and writes them to its own file (the image's
 * ~/.ssh/known_hosts), never the user's. A host whose pinned key is not offered gets no line, so
 * openssh refuses it (StrictHostKeyChecking yes in the image).
 */
import { spawn } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HostSpec } from './hosts.js';
import { sshKeyFingerprint } from './hosts.js';

/** One ssh:// host to write a line for. */
export interface KnownHostTarget {
  name: string;
  host: string;
  port: number;
  /** Pinned `SHA256:...` fingerprint. */
  fingerprint: string;
}

/** What writeKnownHosts wrote. */
export interface KnownHostsResult {
  /** Host names with a matching key line. */
  written: string[];
  /** Host names whose pinned key was not offered (or that did not answer), with the reason. */
  missing: Array<{ name: string; reason: string }>;
}

/** The ssh:// hosts of DOCKER_HOSTS with their pinned fingerprints. */
export function knownHostTargets(
  specs: readonly HostSpec[],
  pins: ReadonlyMap<string, string>,
): KnownHostTarget[] {
  const out: KnownHostTarget[] = [];
  for (const s of specs) {
    const fingerprint = pins.get(s.name);
    if (s.kind === 'ssh' && fingerprint) out.push({ name: s.name, host: s.host, port: s.port, fingerprint });
  }
  return out;
}

/** The known_hosts host field: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Lines of `ssh-keyscan` output (`host type base64`) whose key has the pinned fingerprint. */
export function matchingKeyLines(scan: string, target: KnownHostTarget): string[] {
  const want = target.fingerprint.replace(/=+$/, '');
  const lines: string[] = [];
  for (const line of scan.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3 || line.startsWith('#')) continue;
    const [, type, b64] = parts as [string, string, string];
    if (!/^[A-Za-z0-9+/]+=*$/.test(b64)) continue;
    if (sshKeyFingerprint(Buffer.from(b64, 'base64')) === want)
      lines.push(`${knownHostsName(target.host, target.port)} ${type} ${b64}`);
  }
  return lines;
}

function keyscan(bin: string, target: KnownHostTarget, timeoutSec: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(bin, ['-T', String(timeoutSec), '-p', String(target.port), '--', target.host], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.once('error', () => resolve(''));
    child.once('close', () => resolve(out));
  });
}

/**
 * Scans every target (in parallel) and replaces `file` (mode 0600, folder 0700) with the matching
 * lines. Never throws for an unreachable host: it is reported in `missing`.
 */
export async function writeKnownHosts(
  file: string,
  targets: readonly KnownHostTarget[],
  opts: { keyscanBin?: string; timeoutSec?: number } = {},
): Promise<KnownHostsResult> {
  const bin = opts.keyscanBin ?? 'ssh-keyscan';
  const scans = await Promise.all(targets.map((t) => keyscan(bin, t, opts.timeoutSec ?? 5)));
  const result: KnownHostsResult = { written: [], missing: [] };
  const lines: string[] = [];
  targets.forEach((t, i) => {
    const scan = scans[i] ?? '';
    const found = matchingKeyLines(scan, t);
    if (found.length) {
      result.written.push(t.name);
      lines.push(...found);
    } else
      result.missing.push({
        name: t.name,
        reason: scan.trim() ? 'the host does not offer the pinned key' : 'no answer from ssh-keyscan',
      });
  });
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
  await rename(tmp, file);
  return result;
}
