/**
 * Asks an image registry which digest a tag has now, without downloading anything: a manifest
 * HEAD (GET only for a multi-arch index, to find the platform's entry), with the token flow of
 * the registry API (401 + `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, as Docker Hub,
 * GHCR and distribution do) and credentials from the Docker config file (`auths.<registry>.auth`).
 * Every request of one check shares one deadline, so a slow registry only delays its own images.
 * https://distribution.github.io/distribution/spec/auth/token/
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SiteFlowError } from '../core/errors.js';

const MANIFEST_TYPES = {
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  docker: 'application/vnd.docker.distribution.manifest.v2+json',
  oci: 'application/vnd.oci.image.manifest.v1+json',
} as const;
const ACCEPT = Object.values(MANIFEST_TYPES).join(', ');

/** An image reference split into where it lives. */
export interface ImageName {
  /** Registry host (and port) as Docker names it; `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path, `library/` added for official Docker Hub images. */
  repository: string;
  tag: string;
  /** Set when the reference pins a digest (nothing to check then). */
  digest: string | null;
}

/** Splits `ref` like Docker does (no registry part: Docker Hub; no tag: `latest`). */
export function parseImageName(ref: string): ImageName {
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let registry = hasRegistry ? first : 'docker.io';
  let path = hasRegistry ? rest.slice(slash + 1) : rest;
  const colon = path.lastIndexOf(':');
  let tag = 'latest';
  if (colon > path.lastIndexOf('/')) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  if (registry === 'index.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return { registry, repository: path, tag, digest };
}

/** The platform an image was built for (from the local image's config). */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string | null;
}

/** What the registry says about a tag. */
export interface RemoteDigest {
  /** The digest of what the tag points to (an index for multi-arch images). */
  digest: string;
  /** For an index: the digest of the entry for the asked platform (null when none matches). */
  platformDigest: string | null;
}

/** Credentials for one registry (from the Docker config file). */
export interface RegistryAuth {
  username: string;
  password: string;
}

/** Reads `auths` of a Docker config file (`$DOCKER_CONFIG/config.json`); missing file: none. */
export async function readDockerAuths(configDir: string): Promise<Map<string, RegistryAuth>> {
  const out = new Map<string, RegistryAuth>();
  let text: string;
  try {
    text = await readFile(join(configDir, 'config.json'), 'utf8');
  } catch {
    return out;
  }
  let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    doc = JSON.parse(text);
  } catch {
    throw new SiteFlowError('CONFIG_INVALID', `${join(configDir, 'config.json')} is not valid JSON`);
  }
  for (const [key, v] of Object.entries(doc.auths ?? {})) {
    let username = v.username ?? '';
    let password = v.password ?? '';
    if (v.auth) {
      const plain = Buffer.from(v.auth, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      if (i > 0) {
        username = plain.slice(0, i);
        password = plain.slice(i + 1);
      }
    }
    if (!username) continue;
    // Keys may be URLs (`https://index.docker.io/v1/`) or bare hosts.
    const host = key.replace(/^https?:\/\//, '').split('/')[0]!;
    out.set(host === 'index.docker.io' ? 'docker.io' : host, { username, password });
  }
  return out;
}

/** Options of a RegistryClient. */
export interface RegistryClientOptions {
  /** Credentials by registry host. */
  auths?: Map<string, RegistryAuth>;
  /** The deadline of one check (all its requests), in ms. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Docker's rule: loopback registries are spoken to over plain HTTP. */
function baseUrl(registry: string): string {
  if (registry === 'docker.io') return 'https://registry-1.docker.io';
  const host = registry.replace(/:\d+$/, '');
  const insecure = host === 'localhost' || /^127\./.test(host) || host === '[::1]';
  return `${insecure ? 'http' : 'https'}://${registry}`;
}

/** `Bearer realm="…",service="…",scope="…"` -> its parameters. */
export function parseBearerChallenge(header: string): Record<string, string> | null {
  const m = /^\s*Bearer\s+(.*)$/i.exec(header);
  if (!m) return null;
  const out: Record<string, string> = {};
  for (const p of m[1]!.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) out[p[1]!.toLowerCase()] = p[2]!;
  return out.realm ? out : null;
}

/** Manifest lookups against image registries; see the module comment. */
export class RegistryClient {
  private readonly fetch: typeof fetch;
  private readonly tokens = new Map<string, string>();

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.fetch = opts.fetch ?? fetch;
  }

  /**
   * The digest `ref`'s tag has now, and for a multi-arch index the entry for `platform`.
   * Throws REGISTRY_AUTH (refused), REGISTRY_NOT_FOUND (no such tag), REGISTRY_TIMEOUT or
   * REGISTRY_UNREACHABLE.
   */
  async remoteDigest(ref: string, platform: Platform | null): Promise<RemoteDigest> {
    const name = parseImageName(ref);
    const signal = AbortSignal.timeout(this.opts.timeoutMs ?? 10_000);
    const url = `${baseUrl(name.registry)}/v2/${name.repository}/manifests/${name.tag}`;
    const head = await this.request(name, url, 'HEAD', signal);
    const digest = head.headers.get('docker-content-digest');
    const type = (head.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const isIndex = type === MANIFEST_TYPES.dockerList || type === MANIFEST_TYPES.ociIndex;
    if (digest && !isIndex) return { digest, platformDigest: null };
    // An index (or a registry that sends no digest on HEAD): read the manifest itself.
    const got = await this.request(name, url, 'GET', signal);
    const body = (await got.json()) as {
      manifests?: Array<{
        digest: string;
        platform?: { os?: string; architecture?: string; variant?: string };
      }>;
    };
    const own = got.headers.get('docker-content-digest') ?? digest;
    if (!own) throw new SiteFlowError('REGISTRY_API', `${name.registry} sent no digest for ${ref}`);
    if (!body.manifests) return { digest: own, platformDigest: null };
    const match = platform
      ? body.manifests.find(
          (m) =>
            m.platform?.os === platform.os &&
            m.platform?.architecture === platform.architecture &&
            (!platform.variant || !m.platform?.variant || m.platform.variant === platform.variant),
        )
      : undefined;
    return { digest: own, platformDigest: match?.digest ?? null };
  }

  private async request(name: ImageName, url: string, method: 'HEAD' | 'GET', signal: AbortSignal) {
    const key = `${name.registry}/${name.repository}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = this.tokens.get(key);
      const res = await this.send(url, method, signal, {
        accept: ACCEPT,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      });
      if (res.status === 401 && attempt === 0) {
        const challenge = parseBearerChallenge(res.headers.get('www-authenticate') ?? '');
        if (!challenge) break;
        this.tokens.set(key, await this.token(name, challenge, signal));
        continue;
      }
      if (res.ok) return res;
      if (res.status === 401 || res.status === 403)
        throw new SiteFlowError('REGISTRY_AUTH', `${name.registry} refused access to ${name.repository}`);
      if (res.status === 404)
        throw new SiteFlowError(
          'REGISTRY_NOT_FOUND',
          `${name.repository}:${name.tag} is not in ${name.registry}`,
        );
      throw new SiteFlowError('REGISTRY_API', `${name.registry} answered HTTP ${res.status}`);
    }
    throw new SiteFlowError('REGISTRY_AUTH', `${name.registry} refused access to ${name.repository}`);
  }

  /** A token from the challenge's realm, with the configured credentials when there are any. */
  private async token(name: ImageName, c: Record<string, string>, signal: AbortSignal): Promise<string> {
    const u = new URL(c.realm!);
    if (c.service) u.searchParams.set('service', c.service);
    u.searchParams.set('scope', c.scope ?? `repository:${name.repository}:pull`);
    const auth = this.opts.auths?.get(name.registry);
    const res = await this.send(u.toString(), 'GET', signal, {
      ...(auth
        ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
        : {}),
    });
    if (!res.ok)
      throw new SiteFlowError('REGISTRY_AUTH', `${name.registry} gave no token (HTTP ${res.status})`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const t = body.token ?? body.access_token;
    if (!t) throw new SiteFlowError('REGISTRY_AUTH', `${name.registry} gave no token`);
    return t;
  }

  private async send(url: string, method: string, signal: AbortSignal, headers: Record<string, string>) {
    try {
      return await this.fetch(url, { method, headers, signal, redirect: 'follow' });
    } catch (e) {
      if (signal.aborted)
        throw new SiteFlowError('REGISTRY_TIMEOUT', `${new URL(url).host} did not answer in time`);
      throw new SiteFlowError(
        'REGISTRY_UNREACHABLE',
        `${new URL(url).host} is not reachable`,
        {},
        { cause: e },
      );
    }
  }
}
