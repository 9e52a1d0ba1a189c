import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Compose, ComposeRunOptions } from '../../../src/core/engine.js';
import type { ActionIO } from '../../../src/core/runs.js';
import { CaddyReloader } from '../../../src/provision/caddy.js';
import { ARCHIVE_DIR, deprovisionSite } from '../../../src/provision/deprovision-site.js';
import { localAccess } from '../../../src/provision/host-access.js';

const root = mkdtempSync(join(tmpdir(), 'siteflow-deprovision-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Records compose runs instead of running compose (the compose CLI is not under test here). */
class RecordingCompose implements Compose {
  runs: Array<{ dir: string; project: string; args: readonly string[]; opts: ComposeRunOptions }> = [];
  async detect() {
    return { flavor: 'v1' as const, command: ['docker-compose'] as [string], version: '1.29.2' };
  }
  async run(dir: string, project: string, args: readonly string[], opts: ComposeRunOptions = {}) {
    this.runs.push({ dir, project, args, opts });
    return { exitCode: 0 };
  }
}

function io(signal = new AbortController().signal): ActionIO & { lines: string[] } {
  const lines: string[] = [];
  return { signal, lines, line: (t) => lines.push(t), progress() {}, logger: silent };
}

function makeSite(sitesRoot: string, site: string): string {
  const dir = join(sitesRoot, site);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'docker-compose.yml'), 'services: {}\n');
  writeFileSync(join(dir, '.env'), 'DB_PASSWORD=not-a-real-secret\n', { mode: 0o600 });
  return dir;
}

describe('deprovision', () => {
  it('reloads Caddy on a retry after a failed reload, though the route file is already gone', async () => {
    const sitesRoot = join(root, 'retry');
    const sitesDir = join(root, 'retry-caddy');
    mkdirSync(sitesDir, { recursive: true });
    makeSite(sitesRoot, 'blog');
    writeFileSync(join(sitesDir, 'blog.caddy'), 'blog.example.com {\n}\n');
    // The reload command counts its calls and fails while the `broken` file exists.
    const calls = join(root, 'reload-calls');
    const broken = join(root, 'reload-broken');
    writeFileSync(broken, '');
    const caddy = new CaddyReloader({
      sitesDir,
      caddyfile: null,
      adminUrl: null,
      bin: 'caddy',
      reloadCommand: [
        'sh',
        '-c',
        'echo reload >> "$1"; if [ -e "$2" ]; then echo "admin down" >&2; exit 1; fi',
        'sh',
        calls,
        broken,
      ],
    });
    const compose = new RecordingCompose();
    const opts = {
      target: { host: 'nas', sitesRoot, caddy, access: localAccess() },
      compose,
      composeEnv: { DOCKER_HOST: 'tcp://127.0.0.1:2376' },
      site: 'blog',
      removeVolumes: false,
      deleteFiles: true,
      timeoutMs: 60_000,
    };
    await expect(deprovisionSite(opts).run(io())).rejects.toMatchObject({ code: 'CADDY_RELOAD_FAILED' });
    expect(existsSync(join(sitesDir, 'blog.caddy'))).toBe(false);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toHaveLength(1);

    rmSync(broken);
    const retry = io();
    await deprovisionSite(opts).run(retry);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(retry.lines.join('\n')).toMatch(/Caddy: reloaded with sh/);
    expect(existsSync(join(sitesRoot, 'blog'))).toBe(false);
    // compose ran against the site's own host
    expect(compose.runs.map((r) => r.opts.env)).toEqual([opts.composeEnv, opts.composeEnv]);
  });

  it('archives to an owner-only file', async () => {
    const sitesRoot = join(root, 'ok');
    makeSite(sitesRoot, 'shop');
    await deprovisionSite({
      target: { host: 'local', sitesRoot, caddy: null, access: localAccess() },
      compose: new RecordingCompose(),
      site: 'shop',
      removeVolumes: false,
      deleteFiles: false,
      timeoutMs: 60_000,
      now: () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    }).run(io());
    const archive = join(sitesRoot, ARCHIVE_DIR, 'shop-20260102T030405Z.tar.gz');
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    expect(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' })).toContain('shop/.env');
    expect(existsSync(join(sitesRoot, 'shop'))).toBe(false);
  });

  it('a cancelled tar leaves no partial archive (it would hold .env) and keeps the folder', async () => {
    const sitesRoot = join(root, 'cancel');
    const dir = makeSite(sitesRoot, 'big');
    // A huge sparse file: tar reads (and gzips) it for minutes, using no disk for the source.
    execFileSync('truncate', ['-s', '200G', join(dir, 'huge.bin')]);
    const ac = new AbortController();
    const archiveDir = join(sitesRoot, ARCHIVE_DIR);
    const running = deprovisionSite({
      target: { host: 'local', sitesRoot, caddy: null, access: localAccess() },
      compose: new RecordingCompose(),
      site: 'big',
      removeVolumes: false,
      deleteFiles: false,
      timeoutMs: 600_000,
    }).run(io(ac.signal));
    running.catch(() => {});
    // Cancel once tar has written part of the archive.
    const end = Date.now() + 20_000;
    const partial = () => {
      const f = existsSync(archiveDir) ? readdirSync(archiveDir) : [];
      return f.length === 1 && statSync(join(archiveDir, f[0]!)).size > 0;
    };
    while (!partial() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(partial()).toBe(true);
    ac.abort();
    await expect(running).rejects.toMatchObject({
      code: 'PROVISION_TOOL',
      message: expect.stringMatching(/cancelled/),
    });
    expect(readdirSync(archiveDir)).toEqual([]);
    expect(existsSync(join(dir, '.env'))).toBe(true);
  });
});
