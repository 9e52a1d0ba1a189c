/**
 * RegistryClient against a small registry stand-in on loopback (node:http): the Bearer token
 * flow with Docker config credentials, a multi-arch index matched to the running platform, and
 * the per-check deadline of a registry that never answers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseBearerChallenge,
  parseImageName,
  RegistryClient,
  readDockerAuths,
} from '../../../src/docker/registry-client.js';

const INDEX = `sha256:${'a'.repeat(64)}`;
const AMD64 = `sha256:${'b'.repeat(64)}`;
const ARM64 = `sha256:${'c'.repeat(64)}`;
const PLAIN = `sha256:${'d'.repeat(64)}`;

let server: Server;
let hang: Server;
let host = '';
let hangHost = '';
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.url?.startsWith('/token')) {
      const ok = req.headers.authorization === `Basic ${Buffer.from('ann:s3cret').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { token: 'tok-1' } : {}));
      return;
    }
    if (req.headers.authorization !== 'Bearer tok-1') {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${host}/token",service="test-registry",scope="repository:team/app:pull"`,
      });
      res.end();
      return;
    }
    if (req.url === '/v2/team/app/manifests/1') {
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.index.v1+json',
        'docker-content-digest': INDEX,
      });
      res.end(
        req.method === 'GET'
          ? JSON.stringify({
              manifests: [
                { digest: AMD64, platform: { os: 'linux', architecture: 'amd64' } },
                { digest: ARM64, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
              ],
            })
          : undefined,
      );
      return;
    }
    if (req.url === '/v2/team/plain/manifests/2') {
      res.writeHead(200, {
        'content-type': 'application/vnd.docker.distribution.manifest.v2+json',
        'docker-content-digest': PLAIN,
      });
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  hang = createServer(() => {
    // never answers
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  hangHost = `127.0.0.1:${(hang.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  hang.closeAllConnections();
  await new Promise((r) => server.close(r));
  await new Promise((r) => hang.close(r));
});

describe('RegistryClient', () => {
  it('parses references like Docker does', () => {
    expect(parseImageName('nginx')).toEqual({
      registry: 'docker.io',
      repository: 'library/nginx',
      tag: 'latest',
      digest: null,
    });
    expect(parseImageName('ghcr.io/o/app:2')).toMatchObject({
      registry: 'ghcr.io',
      repository: 'o/app',
      tag: '2',
    });
    expect(parseImageName('127.0.0.1:5000/a/b:1')).toMatchObject({
      registry: '127.0.0.1:5000',
      repository: 'a/b',
      tag: '1',
    });
    expect(parseImageName(`x/y@${PLAIN}`).digest).toBe(PLAIN);
    expect(parseBearerChallenge('Bearer realm="https://auth/t",service="s"')).toEqual({
      realm: 'https://auth/t',
      service: 's',
    });
    expect(parseBearerChallenge('Basic realm="x"')).toBeNull();
  });

  it('gets a token with the Docker config credentials and matches the index entry of the platform', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-dockercfg-'));
    try {
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({
          auths: { [`http://${host}`]: { auth: Buffer.from('ann:s3cret').toString('base64') } },
        }),
      );
      const auths = await readDockerAuths(dir);
      const client = new RegistryClient({ auths, timeoutMs: 3000 });
      const r = await client.remoteDigest(`${host}/team/app:1`, {
        os: 'linux',
        architecture: 'arm64',
        variant: 'v8',
      });
      expect(r).toEqual({ digest: INDEX, platformDigest: ARM64 });
      expect(
        seen.some((l) =>
          l.startsWith('GET /token?service=test-registry&scope=repository%3Ateam%2Fapp%3Apull Basic'),
        ),
      ).toBe(true);
      // Nothing but manifests and the token: no blob was asked for.
      expect(seen.every((l) => !l.includes('/blobs/'))).toBe(true);
      const plain = await client.remoteDigest(`${host}/team/plain:2`, null);
      expect(plain).toEqual({ digest: PLAIN, platformDigest: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without credentials the token is refused: REGISTRY_AUTH; a missing tag: REGISTRY_NOT_FOUND', async () => {
    const client = new RegistryClient({ timeoutMs: 3000 });
    await expect(client.remoteDigest(`${host}/team/app:1`, null)).rejects.toMatchObject({
      code: 'REGISTRY_AUTH',
    });
  });

  it('a registry that never answers fails its own check at the deadline', async () => {
    const client = new RegistryClient({ timeoutMs: 300 });
    const t0 = Date.now();
    await expect(client.remoteDigest(`${hangHost}/x/y:1`, null)).rejects.toMatchObject({
      code: 'REGISTRY_TIMEOUT',
    });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
