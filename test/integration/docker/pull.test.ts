/**
 * DockerodeEngine.pullImage against the local registry: a fresh image with a unique layer is
 * pushed, removed locally and pulled back, so real layer progress and a registry digest appear.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PullProgress } from '../../../src/core/engine.js';
import { DockerodeEngine } from '../../../src/docker/dockerode-engine.js';
import { dockerOptionsFor, parseDockerHosts } from '../../../src/docker/hosts.js';
import {
  registryDigest,
  registryRunImage,
  registryRunPrefix,
  run,
  runId,
  TEST_LABEL,
  tempDir,
  testDocker,
} from '../../env/harness.js';

const env = inject('siteflowTestEnv');
const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };

describe('DockerodeEngine.pullImage (local registry)', () => {
  const parsed = parseDockerHosts(env.dockerHost);
  if (!parsed.ok) throw new Error(parsed.error.join('; '));
  const engine = new DockerodeEngine({ name: 'local', docker: dockerOptionsFor(parsed.value[0]!) });
  const repoName = 'pull';
  const ref = `${registryRunImage(repoName, env)}:v1`;
  let dir = '';

  beforeAll(async () => {
    // A labelled image with one unique, incompressible layer, pushed and then removed locally.
    dir = tempDir('image');
    const root = join(dir, 'root');
    mkdirSync(root);
    writeFileSync(join(root, 'payload.bin'), randomBytes(12 * 1024 * 1024));
    await run('tar', ['-C', root, '-cf', join(dir, 'image.tar'), '.']);
    await run('docker', ['import', '--change', `LABEL ${TEST_LABEL}=${runId}`, join(dir, 'image.tar'), ref], {
      env: cliEnv,
    });
    await run('docker', ['push', ref], { env: cliEnv });
    await run('docker', ['rmi', ref], { env: cliEnv });
  });

  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await testDocker(env)
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
  });

  it('reports aggregated layer progress and the registry digest', async () => {
    expect(await engine.imageDigest(ref)).toBeNull();
    const progress: PullProgress[] = [];
    const result = await engine.pullImage(ref, { onProgress: (p) => progress.push({ ...p }) });

    const expected = await registryDigest(env.registry, `${registryRunPrefix()}/${repoName}`, 'v1');
    expect(expected).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(result).toEqual({ ref, digest: expected, updated: true });

    expect(progress.length).toBeGreaterThan(0);
    const last = progress.at(-1)!;
    expect(last.layers).toBe(1);
    expect(last.layersDone).toBe(1);
    // The layer's size is known and fully counted once it is done (compressed size, > 12 MB).
    expect(last.bytesTotal).toBeGreaterThan(12 * 1024 * 1024);
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(progress.some((p) => p.status === 'Downloading')).toBe(true);
    // Progress only ever grows.
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.bytesDone).toBeGreaterThanOrEqual(progress[i - 1]!.bytesDone);
    }

    expect(await engine.imageDigest(ref)).toBe(expected);
  });

  it('knows when the image is already up to date', async () => {
    const again = await engine.pullImage(ref);
    expect(again.updated).toBe(false);
    expect(again.digest).toBe(await engine.imageDigest(ref));
  });

  it('fails with DOCKER_NOT_FOUND for an unknown tag and honours an aborted signal', async () => {
    await expect(engine.pullImage(`${registryRunImage(repoName, env)}:missing`)).rejects.toMatchObject({
      code: 'DOCKER_NOT_FOUND',
    });
    const ac = new AbortController();
    ac.abort();
    await expect(engine.pullImage(ref, { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
