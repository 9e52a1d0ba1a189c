/**
 * Child processes get only PATH, HOME (and a few harmless variables) plus what their caller adds:
 * a CADDY_RELOAD_COMMAND script, `caddy adapt`, `tar` and the compose CLI, each replaced by a
 * script that dumps its environment, see none of SiteFlow's secrets although SiteFlow's own
 * environment holds every secret key.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeKeys } from '../../../src/config.js';
import { ComposeCli } from '../../../src/docker/compose-cli.js';
import { CaddyReloader } from '../../../src/provision/caddy.js';
import { runTool } from '../../../src/provision/run-tool.js';

const dir = mkdtempSync(join(tmpdir(), 'sf-childenv-'));
const secretKeys = describeKeys()
  .filter((k) => k.secret)
  .map((k) => k.name);
const saved: Record<string, string | undefined> = {};
const values = new Map(secretKeys.map((k, i) => [k, `leak-${k.toLowerCase()}-${i}-0123456789abcdef`]));

/** A script that writes its environment to `out` (and prints `say`). */
function dumper(name: string, out: string, say = ''): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\nenv > '${out}'\n${say ? `echo '${say}'\n` : ''}exit 0\n`);
  chmodSync(p, 0o755);
  return p;
}

function expectClean(file: string): string {
  const env = readFileSync(file, 'utf8');
  expect(env).toMatch(/^PATH=/m);
  for (const [k, v] of values) {
    expect(env, k).not.toContain(v);
    expect(env, k).not.toMatch(new RegExp(`^${k}=`, 'm'));
  }
  return env;
}

beforeAll(() => {
  for (const [k, v] of values) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  saved.PATH = process.env.PATH;
  // `tar` found first on PATH is the dumper (deprovision archives with `tar` through runTool).
  dumper('tar', join(dir, 'tar.env'));
  process.env.PATH = `${dir}:${process.env.PATH}`;
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('child process environment', () => {
  it('the Caddy reload command sees none of SiteFlow’s secrets', async () => {
    const script = dumper('reload.sh', join(dir, 'reload.env'));
    const caddy = new CaddyReloader({
      sitesDir: dir,
      caddyfile: null,
      adminUrl: null,
      reloadCommand: [script],
      bin: 'caddy',
    });
    await caddy.reload();
    expectClean(join(dir, 'reload.env'));
  });

  it('caddy adapt (CADDY_BIN) sees none either', async () => {
    const bin = dumper('caddy', join(dir, 'caddy.env'), '{}');
    const caddy = new CaddyReloader({
      sitesDir: dir,
      caddyfile: join(dir, 'Caddyfile'),
      // Nothing listens here: the load fails after adapt ran, which is all this test needs.
      adminUrl: 'http://127.0.0.1:9',
      reloadCommand: null,
      bin,
    });
    await caddy.reload().catch(() => undefined);
    expectClean(join(dir, 'caddy.env'));
  });

  it('tar sees none either, and an explicit variable from the caller does arrive', async () => {
    await runTool('tar', ['-czf', join(dir, 'x.tgz'), '-C', dir, '--', 'x'], { env: { EXTRA_OK: 'yes' } });
    expect(expectClean(join(dir, 'tar.env'))).toMatch(/^EXTRA_OK=yes$/m);
  });

  it('the compose CLI gets the host’s DOCKER_HOST and none of SiteFlow’s secrets', async () => {
    const bin = dumper('compose', join(dir, 'compose.env'), 'docker-compose version 1.29.2');
    const compose = new ComposeCli({
      dockerBin: join(dir, 'no-docker'),
      composeBin: bin,
      env: { DOCKER_HOST: 'unix:///tmp/other.sock' },
    });
    await compose.detect();
    expect(expectClean(join(dir, 'compose.env'))).toMatch(/^DOCKER_HOST=unix:\/\/\/tmp\/other.sock$/m);
  });
});
