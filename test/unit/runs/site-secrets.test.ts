/**
 * SiteEnvSecrets with in-memory HostFs stand-ins for this machine and an ssh:// host (the real
 * SFTP path is covered by test/integration/docker/ssh-secrets.test.ts): each site's .env is read
 * on its own host, a failed or late read keeps what was masked, a slow host is waited for at most
 * its deadline and then not again.
 */
import { describe, expect, it } from 'vitest';
import type { SiteInfo } from '../../../src/core/engine.js';
import { LiveState } from '../../../src/core/live-state.js';
import { MASK, SecretMasker } from '../../../src/core/secret-mask.js';
import { siteState } from '../../../src/docker/status.js';
import type { HostFs } from '../../../src/provision/host-access.js';
import { SiteEnvSecrets } from '../../../src/runs/site-secrets.js';
import { testLogger } from '../../support/siteflow.js';

/** A HostFs stand-in over a map of files; `mode` makes every call fail or never answer. */
function memFs(files: Map<string, { text: string; mtimeMs: number }>) {
  const o = { mode: 'ok' as 'ok' | 'fail' | 'hang', calls: 0 };
  const gate = async () => {
    o.calls += 1;
    if (o.mode === 'fail') throw new Error('host edge: SFTP stat: connection lost');
    if (o.mode === 'hang') await new Promise(() => undefined);
  };
  const fs: HostFs = {
    exists: async (p) => files.has(p),
    mkdir: async () => undefined,
    writeFile: async () => undefined,
    rm: async () => undefined,
    async stat(p) {
      await gate();
      const f = files.get(p);
      return f ? { mtimeMs: f.mtimeMs, size: f.text.length } : null;
    },
    async readFile(p) {
      await gate();
      const f = files.get(p);
      if (!f) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return f.text;
    },
  };
  return Object.assign(o, { fs });
}

const site = (host: string, name: string, projectDir: string | null): SiteInfo => ({
  host,
  name,
  projectDir,
  composeFiles: [],
  containers: [],
  state: 'up',
});

function setup(deadlineMs = 50) {
  const live = new LiveState({ hosts: ['local', 'edge'], siteState });
  const here = memFs(
    new Map([['/srv/sites/blog/.env', { text: 'DB_PASSWORD=local-secret-1\n', mtimeMs: 1 }]]),
  );
  const edgeFiles = new Map([
    ['/edge/sites/shop/.env', { text: 'DB_PASSWORD=edge-secret-1\n', mtimeMs: 1 }],
    ['/opt/api/.env', { text: 'API_TOKEN=edge-token-1\n', mtimeMs: 1 }],
  ]);
  const edge = memFs(edgeFiles);
  live.replaceHostSites('local', [site('local', 'blog', null)]);
  // shop: a folder under edge's SITES_ROOTS (no project folder known); api: a compose project.
  live.replaceHostSites('edge', [site('edge', 'shop', null), site('edge', 'api', '/opt/api')]);
  const masker = new SecretMasker();
  const lines: string[] = [];
  const secrets = new SiteEnvSecrets({
    masker,
    state: live,
    logger: testLogger(lines),
    hostFiles: (h) =>
      h === 'edge' ? { fs: edge.fs, root: '/edge/sites', deadlineMs } : { fs: here.fs, root: '/srv/sites' },
  });
  return { live, here, edge, edgeFiles, masker, secrets, lines };
}

const masked = (m: SecretMasker, v: string) => m.mask(`x ${v} x`) === `x ${MASK} x`;

describe('SiteEnvSecrets (in-memory HostFs stand-ins)', () => {
  it("reads each site's .env on its own host", async () => {
    const t = setup();
    await t.secrets.refresh();
    expect(masked(t.masker, 'local-secret-1')).toBe(true);
    expect(masked(t.masker, 'edge-secret-1')).toBe(true);
    expect(masked(t.masker, 'edge-token-1')).toBe(true);
    // Unchanged files: stat only.
    const calls = t.edge.calls;
    await t.secrets.refresh();
    expect(t.edge.calls - calls).toBe(2);
  });

  it('a failed read keeps what was masked; a changed file replaces it; a gone site drops it', async () => {
    const t = setup();
    await t.secrets.refresh();
    t.edge.mode = 'fail';
    t.edgeFiles.set('/edge/sites/shop/.env', { text: 'DB_PASSWORD=edge-secret-2\n', mtimeMs: 2 });
    await t.secrets.refresh();
    expect(masked(t.masker, 'edge-secret-1')).toBe(true);
    const warned = t.lines.join('');
    expect(warned).toContain('could not read a site .env for masking');
    expect(warned).not.toMatch(/edge-secret|edge-token|local-secret/);
    t.edge.mode = 'ok';
    await t.secrets.refresh();
    expect(masked(t.masker, 'edge-secret-2')).toBe(true);
    expect(masked(t.masker, 'edge-secret-1')).toBe(false);
    t.live.replaceHostSites('edge', [site('edge', 'api', '/opt/api')]);
    await t.secrets.refresh();
    expect(masked(t.masker, 'edge-secret-2')).toBe(false);
    expect(masked(t.masker, 'edge-token-1')).toBe(true);
  });

  it('a host that does not answer is waited for at most its deadline, then not again', async () => {
    const t = setup(100);
    await t.secrets.refresh();
    t.edge.mode = 'hang';
    t.edgeFiles.set('/opt/api/.env', { text: 'API_TOKEN=edge-token-2\n', mtimeMs: 2 });
    const t0 = performance.now();
    // Two refreshes at once (two runs starting) share the one read and its deadline.
    await Promise.all([t.secrets.refresh(), t.secrets.refresh()]);
    const first = performance.now() - t0;
    expect(first).toBeGreaterThanOrEqual(90);
    expect(first).toBeLessThan(1000);
    expect(t.lines.filter((l) => l.includes('timed out')).length).toBe(1);
    const t1 = performance.now();
    await t.secrets.refresh();
    expect(performance.now() - t1).toBeLessThan(50);
    // Still masked meanwhile, and this machine's files are still read.
    expect(masked(t.masker, 'edge-token-1')).toBe(true);
    expect(masked(t.masker, 'local-secret-1')).toBe(true);
  });

  it('refresh(host) reads only that host’s files; the other host’s values stay masked as last read', async () => {
    const { here, edge, masker, secrets } = setup();
    await secrets.refresh();
    const edgeCalls = edge.calls;
    const hereCalls = here.calls;
    // A run on local: edge hangs, and is not asked at all.
    edge.mode = 'hang';
    await secrets.refresh('local');
    expect(edge.calls).toBe(edgeCalls);
    expect(here.calls).toBeGreaterThan(hereCalls);
    expect(masked(masker, 'local-secret-1')).toBe(true);
    expect(masked(masker, 'edge-secret-1')).toBe(true);
    expect(masked(masker, 'edge-token-1')).toBe(true);
  });
});
