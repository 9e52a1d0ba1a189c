/**
 * Test images in the test registry: the busybox test image committed with a layer and CMD of its
 * own (a stand-in for an application image), labelled with the run id so teardown removes it.
 */
import type Docker from 'dockerode';
import { registryDigest, run, runId, TEST_LABEL, type TestEnvState, testLabels } from '../env/harness.js';

/**
 * Commits the busybox test image with a unique layer and the given Dockerfile `changes` as `ref`,
 * pushes it, and returns its local id and registry digest. With `restore` (an image id) the local
 * tag goes back to that image and the new one is removed locally, so a pull must download it.
 * `healthy` gives it a healthcheck that passes (true) or fails (false).
 */
export async function pushImage(
  docker: Docker,
  env: TestEnvState,
  ref: string,
  name: string,
  changes: string[],
  opts: { restore?: string; healthy?: boolean } = {},
): Promise<{ id: string; digest: string }> {
  const cliEnv = { ...process.env, DOCKER_HOST: env.dockerHost };
  const c = await docker.createContainer({
    Image: env.images.busybox,
    Cmd: ['sh', '-c', `echo ${runId}-${name} > /version.txt`],
    Labels: testLabels(),
    // `docker commit --change` takes no HEALTHCHECK: the container's own config carries it.
    ...(opts.healthy === undefined
      ? {}
      : { Healthcheck: { Test: ['CMD', opts.healthy ? 'true' : 'false'], Interval: 1e9, Retries: 2 } }),
  });
  await c.start();
  await c.wait();
  const args = ['commit', '--change', `LABEL ${TEST_LABEL}=${runId}`];
  for (const ch of changes) args.push('--change', ch);
  await run('docker', [...args, c.id, ref], { env: cliEnv });
  await c.remove({ force: true });
  const id = (await docker.getImage(ref).inspect()).Id;
  // dockerd 20.10 insists on an X-Registry-Auth header, even for a registry without auth.
  const stream = await docker.getImage(ref).push({ authconfig: {} });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (e: unknown) => (e ? reject(e) : resolve()),
      (m: { error?: string }) => {
        if (m.error) reject(new Error(m.error));
      },
    ),
  );
  const repo = ref.slice(0, ref.lastIndexOf(':'));
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  const digest = await registryDigest(env.registry, repo.slice(env.registry.length + 1), tag);
  if (opts.restore) {
    await run('docker', ['tag', opts.restore, ref], { env: cliEnv });
    await run('docker', ['rmi', id], { env: cliEnv });
  }
  return { id, digest: digest! };
}
