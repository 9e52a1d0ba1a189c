/**
 * ComposeCli against the real compose CLI (v1 here): detection, streamed `up -d` / `ps` output,
 * failures with exit codes, and cancelled or timed-out runs that leave no process behind.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ComposeCli } from '../../../src/docker/compose-cli.js';
import { type ComposeProject, createComposeProject, run, runId, tempDir } from '../../env/harness.js';

const env = inject('siteflowTestEnv');

/** Command lines of live processes that contain `marker`. */
async function processesWith(marker: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid,pgid,stat,args']);
  return stdout
    .split('\n')
    .filter((l) => l.includes(marker) && !/^\s*\d+\s+\d+\s+Z/.test(l))
    .filter((l) => !l.includes('ps -eo'));
}

type Line = { line: string; stream: 'stdout' | 'stderr' };

describe('ComposeCli (real CLI)', () => {
  const cli = new ComposeCli({ env: { DOCKER_HOST: env.dockerHost }, killGraceMs: 2_000 });
  const projects: ComposeProject[] = [];

  afterAll(async () => {
    for (const p of projects) await p.down().catch(() => undefined);
  });

  it('detects docker-compose v1 when the v2 plugin is absent', async () => {
    const info = await cli.detect();
    // This machine has no `docker compose` plugin; a machine with it would detect v2 first.
    expect(info.flavor).toBe('v1');
    expect(info.command).toEqual(['docker-compose']);
    expect(info.version).toMatch(/^1\.\d+\.\d+/);
  });

  it('reports COMPOSE_MISSING when neither CLI exists', async () => {
    const none = new ComposeCli({
      dockerBin: '/nonexistent/docker',
      composeBin: '/nonexistent/docker-compose',
    });
    await expect(none.detect()).rejects.toMatchObject({ code: 'COMPOSE_MISSING' });
    await expect(none.run(tempDir('x'), 'abc', ['ps'])).rejects.toMatchObject({ code: 'COMPOSE_MISSING' });
  });

  it('passes the known compose files as -f, and names a missing project folder', async () => {
    const dir = tempDir('files');
    // A name compose would never find on its own: without -f, `config` fails.
    writeFileSync(
      join(dir, 'site-stack.yml'),
      'version: "3.7"\nservices:\n  web:\n    image: x\n  worker:\n    image: y\n',
    );
    const lines: string[] = [];
    await cli.run(dir, 'files', ['config', '--services'], {
      files: ['site-stack.yml'],
      onLine: (l) => lines.push(l),
    });
    expect(lines.sort()).toEqual(['web', 'worker']);
    await expect(cli.run(dir, 'files', ['config', '--services'])).rejects.toMatchObject({
      code: 'COMPOSE_FAILED',
    });
    await expect(cli.run(join(dir, 'gone'), 'files', ['ps'])).rejects.toMatchObject({
      code: 'COMPOSE_NO_PROJECT_DIR',
      message: expect.stringContaining(join(dir, 'gone')),
    });
  });

  it('streams `up -d` and `ps` output line by line', async () => {
    const p = createComposeProject({ name: 'cli', services: { app: { command: ['sleep', '3600'] } } }, env);
    projects.push(p);
    const up: Line[] = [];
    const r = await cli.run(p.dir, p.name, ['up', '-d'], {
      onLine: (line, stream) => up.push({ line, stream }),
    });
    expect(r).toEqual({ exitCode: 0 });
    expect(up.some((l) => new RegExp(`Creating ${p.name}_app_1`).test(l.line))).toBe(true);
    expect(up.every((l) => !l.line.includes('\n'))).toBe(true);

    const ps: Line[] = [];
    await cli.run(p.dir, p.name, ['ps'], { onLine: (line, stream) => ps.push({ line, stream }) });
    const row = ps.find((l) => l.line.startsWith(`${p.name}_app_1`));
    expect(row?.stream).toBe('stdout');
    expect(row?.line).toMatch(/\bUp\b/);
  });

  it('throws COMPOSE_FAILED with the exit code, or returns it with allowFailure', async () => {
    const p = createComposeProject({ name: 'fail', services: { app: { command: ['true'] } } }, env);
    projects.push(p);
    const err = await cli.run(p.dir, p.name, ['up', '-d', 'no-such-service']).catch((e) => e);
    expect(err).toMatchObject({ code: 'COMPOSE_FAILED', details: { exitCode: 1, project: p.name } });
    expect((err.details.tail as string[]).join('\n')).toMatch(/No such service: no-such-service/);
    await expect(
      cli.run(p.dir, p.name, ['up', '-d', 'no-such-service'], { allowFailure: true }),
    ).resolves.toEqual({ exitCode: 1 });
    await expect(cli.run(p.dir, 'Bad Name', ['ps'])).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  });

  it('an aborted attached `up` is killed with its whole process group', async () => {
    const p = createComposeProject({ name: 'abort', services: { app: { command: ['sleep', '3600'] } } }, env);
    projects.push(p);
    const ac = new AbortController();
    const lines: string[] = [];
    const running = cli.run(p.dir, p.name, ['up'], {
      signal: ac.signal,
      onLine: (line) => {
        lines.push(line);
        if (/^Attaching to /.test(line)) ac.abort();
      },
    });
    await expect(running).rejects.toMatchObject({ code: 'COMPOSE_CANCELLED' });
    expect(lines.some((l) => l.startsWith('Attaching to'))).toBe(true);
    expect(await processesWith(`--project-name ${p.name}`)).toEqual([]);
  });

  it('a timed-out run is killed and reported as COMPOSE_TIMEOUT', async () => {
    const p = createComposeProject(
      { name: 'timeout', services: { app: { command: ['sleep', '3600'] } } },
      env,
    );
    projects.push(p);
    await expect(cli.run(p.dir, p.name, ['up'], { timeoutMs: 1_500 })).rejects.toMatchObject({
      code: 'COMPOSE_TIMEOUT',
    });
    expect(await processesWith(`--project-name ${p.name}`)).toEqual([]);
  });

  it('kills grandchildren that ignore SIGTERM (SIGKILL after the grace)', async () => {
    // A stand-in CLI whose children outlive a plain kill of the leader: the tree kill must reach them.
    const dir = tempDir('fakecli');
    const marker = `sft-marker-${runId}`;
    const script = join(dir, 'docker-compose');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        'if [ "$1" = version ]; then echo "docker-compose version 1.99.0, build test"; exit 0; fi',
        `sh -c 'trap "" TERM; sleep 300; : ${marker}' &`,
        `sh -c 'sleep 301; : ${marker}' &`,
        'echo started',
        'wait',
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    const fake = new ComposeCli({
      dockerBin: join(dir, 'no-docker'),
      composeBin: script,
      killGraceMs: 1_000,
    });
    expect((await fake.detect()).version).toBe('1.99.0');
    const ac = new AbortController();
    const running = fake.run(dir, 'fake', ['up'], {
      signal: ac.signal,
      onLine: (l) => {
        if (l === 'started') ac.abort();
      },
    });
    // A run whose tree survived would never finish (the children hold its output open): guard the hang.
    const hung = new Promise((resolve) =>
      setTimeout(() => resolve('still running after 30s'), 30_000).unref(),
    );
    try {
      await expect(Promise.race([running, hung])).rejects.toMatchObject({ code: 'COMPOSE_CANCELLED' });
      expect(await processesWith(marker)).toEqual([]);
    } finally {
      // Should the tree kill ever regress, do not leave this test's own processes behind.
      for (const l of await processesWith(marker)) process.kill(Number(l.trim().split(/\s+/)[0]), 'SIGKILL');
    }
  });
});
