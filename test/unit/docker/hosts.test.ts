import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine, SiteInfo } from '../../../src/core/engine.js';
import { SiteFlowError } from '../../../src/core/errors.js';
import {
  composeEnvFor,
  dockerOptionsFor,
  Hosts,
  parseDockerHosts,
  parseSshHostKeys,
  sshHostVerifier,
  sshKeyFingerprint,
  tlsFilesFor,
} from '../../../src/docker/hosts.js';
import { SshConnection } from '../../../src/docker/ssh-connection.js';
import { findSite } from '../../../src/services.js';

describe('parseDockerHosts', () => {
  it('defaults to the local socket when unset or blank', () => {
    for (const raw of [undefined, null, '', '   ']) {
      const r = parseDockerHosts(raw);
      expect(r).toEqual({
        ok: true,
        value: [
          {
            name: 'local',
            url: 'unix:///var/run/docker.sock',
            kind: 'unix',
            socketPath: '/var/run/docker.sock',
          },
        ],
      });
    }
  });

  it('parses named unix, tcp and ssh hosts in order', () => {
    const r = parseDockerHosts(
      'local=unix:///var/run/docker.sock, nas=tcp://10.0.0.5:2376,edge=ssh://deploy@edge',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual([
      { name: 'local', url: 'unix:///var/run/docker.sock', kind: 'unix', socketPath: '/var/run/docker.sock' },
      { name: 'nas', url: 'tcp://10.0.0.5:2376', kind: 'tcp', host: '10.0.0.5', port: 2376 },
      { name: 'edge', url: 'ssh://deploy@edge', kind: 'ssh', host: 'edge', port: 22, username: 'deploy' },
    ]);
  });

  it('names a single bare URL "local"', () => {
    const r = parseDockerHosts('tcp://127.0.0.1:2375');
    expect(r.ok && r.value).toEqual([
      { name: 'local', url: 'tcp://127.0.0.1:2375', kind: 'tcp', host: '127.0.0.1', port: 2375 },
    ]);
  });

  it('takes default ports and ssh ports', () => {
    const r = parseDockerHosts('a=tcp://h1,b=ssh://h2:2222');
    expect(r.ok && r.value.map((s) => ('port' in s ? s.port : null))).toEqual([2375, 2222]);
    expect(r.ok && r.value[1]).toMatchObject({ username: null });
  });

  it('reports every problem at once', () => {
    const r = parseDockerHosts(
      'Bad=unix:///x,dup=unix:///a,dup=unix:///b,web=http://x:1,rel=unix://relative,tcp://nameless:1,pw=ssh://u:secret@h',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toHaveLength(6);
    expect(r.error.join('\n')).toMatch(/"Bad": a host name is a lowercase name/);
    expect(r.error.join('\n')).toMatch(/"dup" is given twice/);
    expect(r.error.join('\n')).toMatch(/web: unsupported scheme http:/);
    expect(r.error.join('\n')).toMatch(/rel: a unix socket needs an absolute path/);
    expect(r.error.join('\n')).toMatch(/each needs a name/);
    expect(r.error.join('\n')).toMatch(/never put a password/);
    // The password itself is never echoed back.
    expect(r.error.join('\n')).not.toContain('secret');
  });

  it('rejects paths and queries on tcp URLs', () => {
    const r = parseDockerHosts('x=tcp://h:1/v1.41?a=b');
    expect(r.ok).toBe(false);
  });
});

describe('dockerOptionsFor / tlsFilesFor / composeEnvFor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'siteflow-hosts-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sets every connection field explicitly for a unix socket', () => {
    const spec = {
      name: 'local',
      url: 'unix:///run/d.sock',
      kind: 'unix',
      socketPath: '/run/d.sock',
    } as const;
    expect(dockerOptionsFor(spec)).toEqual({
      socketPath: '/run/d.sock',
      host: undefined,
      port: undefined,
      protocol: 'http',
    });
    expect(composeEnvFor(spec)).toEqual({ DOCKER_HOST: 'unix:///run/d.sock' });
  });

  it('uses https with the TLS files of the host folder when all three exist', () => {
    mkdirSync(join(dir, 'nas'));
    for (const f of ['ca', 'cert', 'key']) writeFileSync(join(dir, 'nas', `${f}.pem`), `${f}-data`);
    const tls = tlsFilesFor(dir, 'nas');
    expect(tls?.ca.toString()).toBe('ca-data');
    const spec = {
      name: 'nas',
      url: 'tcp://10.0.0.5:2376',
      kind: 'tcp',
      host: '10.0.0.5',
      port: 2376,
    } as const;
    const o = dockerOptionsFor(spec, { tls });
    expect(o).toMatchObject({ host: '10.0.0.5', port: 2376, protocol: 'https' });
    expect(o.key?.toString()).toBe('key-data');
    expect(composeEnvFor(spec, tls)).toEqual({
      DOCKER_HOST: 'tcp://10.0.0.5:2376',
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: join(dir, 'nas'),
    });
    expect(dockerOptionsFor(spec, { tls: null }).protocol).toBe('http');
  });

  it('has no TLS without a folder, and refuses a partial set', () => {
    expect(tlsFilesFor(dir, 'nothing-here')).toBeNull();
    expect(tlsFilesFor(null, 'nas')).toBeNull();
    mkdirSync(join(dir, 'half'));
    writeFileSync(join(dir, 'half', 'ca.pem'), 'x');
    expect(() => tlsFilesFor(dir, 'half')).toThrow(/needs all of ca.pem, cert.pem and key.pem/);
  });

  it('sends the Docker API of an ssh host through its one SSH connection', () => {
    const spec = {
      name: 'edge',
      url: 'ssh://deploy@edge',
      kind: 'ssh',
      host: 'edge',
      port: 22,
      username: 'deploy',
    } as const;
    const conn = new SshConnection({
      name: 'edge',
      host: 'edge',
      port: 22,
      username: 'deploy',
      hostKey: 'SHA256:x',
    });
    const o = dockerOptionsFor(spec, { sshConnection: conn }) as { agent?: unknown; protocol?: string };
    expect(o.protocol).toBe('http');
    expect(o.agent).toBe(conn.agent());
    expect(() => dockerOptionsFor(spec)).toThrow(/needs its SSH connection/);
  });

  it('takes the remote engine socket as ?socket= and nothing else in the query', () => {
    const r = parseDockerHosts('edge=ssh://deploy@edge:2222?socket=/run/user/1000/docker.sock');
    expect(r).toMatchObject({ ok: true, value: [{ port: 2222, socket: '/run/user/1000/docker.sock' }] });
    const bad = parseDockerHosts('a=ssh://u@h?socket=relative,b=ssh://u@h?x=1,c=ssh://u@h?socket=/a;b');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toHaveLength(3);
    expect(() =>
      Hosts.fromConfig({ dockerHosts: 'e=ssh://h', sshHostKeys: `e=SHA256:${'A'.repeat(43)}` }),
    ).toThrow(/name the SSH user/);
  });

  it('builds DockerodeEngines and gives SITES_ROOT to the local host only', () => {
    const hosts = Hosts.fromConfig({
      dockerHosts: 'nas=tcp://127.0.0.1:2375,local=unix:///x.sock',
      sitesRoot: '/srv',
    });
    expect(hosts.names()).toEqual(['nas', 'local']);
    expect(hosts.sitesRootHost()).toBe('local');
    expect(hosts.composeEnv('nas')).toEqual({ DOCKER_HOST: 'tcp://127.0.0.1:2375' });
    expect(() =>
      Hosts.fromConfig({ dockerHosts: 'nas=tcp://localhost', sitesRoot: '/srv', sitesRootHost: 'zzz' }),
    ).toThrow(/SITES_ROOT host zzz/);
    expect(() => Hosts.fromConfig({ dockerHosts: 'X=tcp://h' })).toThrow(SiteFlowError);
  });

  it('names the SITES_ROOT host: local when configured, else the first, or the configured one', () => {
    expect(Hosts.fromConfig({ dockerHosts: 'b=unix:///b.sock,a=unix:///a.sock' }).sitesRootHost()).toBe('b');
    expect(
      Hosts.fromConfig({
        dockerHosts: 'b=unix:///b.sock,a=unix:///a.sock',
        sitesRootHost: 'a',
      }).sitesRootHost(),
    ).toBe('a');
    expect(new Hosts([fakeEngine('nas', []), fakeEngine('local', [])]).sitesRootHost()).toBe('local');
  });

  it('refuses plain tcp:// to another machine, but allows it on loopback', () => {
    expect(() => Hosts.fromConfig({ dockerHosts: 'nas=tcp://10.0.0.5:2375' })).toThrow(
      /nas \(tcp:\/\/10\.0\.0\.5:2375\): plain tcp:\/\/ to another machine.*DOCKER_TLS_DIR\/nas/,
    );
    try {
      Hosts.fromConfig({ dockerHosts: 'nas=tcp://nas.lan:2375' });
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'CONFIG_INVALID' });
    }
    for (const url of [
      'tcp://127.0.0.1:2375',
      'tcp://127.0.0.2:1',
      'tcp://localhost:2375',
      'tcp://[::1]:2375',
    ])
      expect(Hosts.fromConfig({ dockerHosts: `x=${url}` }).names()).toEqual(['x']);
    // With TLS files a remote tcp host is fine.
    mkdirSync(join(dir, 'remote'));
    for (const f of ['ca', 'cert', 'key']) writeFileSync(join(dir, 'remote', `${f}.pem`), `${f}-data`);
    expect(Hosts.fromConfig({ dockerHosts: 'remote=tcp://10.0.0.5:2376', tlsDir: dir }).names()).toEqual([
      'remote',
    ]);
  });
});

describe('ssh host keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'siteflow-hostkeys-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fp = `SHA256:${'A'.repeat(43)}`;

  it('parses DOCKER_SSH_HOST_KEYS and reports every bad entry', () => {
    expect(parseSshHostKeys('')).toEqual({ ok: true, value: new Map() });
    expect(parseSshHostKeys(` edge=${fp}= , nas=${fp}`)).toEqual({
      ok: true,
      value: new Map([
        ['edge', fp],
        ['nas', fp],
      ]),
    });
    const bad = parseSshHostKeys(`edge=MD5:aa,${fp},Bad=${fp},x=${fp},x=${fp}`);
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toHaveLength(4);
      expect(bad.error.join('\n')).toMatch(/edge: expected SHA256/);
      expect(bad.error.join('\n')).toMatch(/x is given twice/);
    }
  });

  it('refuses an ssh:// host without a pinned key, and a key for no ssh host', () => {
    expect(() => Hosts.fromConfig({ dockerHosts: 'edge=ssh://deploy@edge' })).toThrow(
      /host edge \(ssh:\/\/deploy@edge\): pin its SSH host key in DOCKER_SSH_HOST_KEYS as edge=SHA256/,
    );
    expect(() =>
      Hosts.fromConfig({ dockerHosts: 'local=unix:///x.sock', sshHostKeys: `edge=${fp}` }),
    ).toThrow(/names edge, which is not an ssh:\/\/ host/);
    const hosts = Hosts.fromConfig({ dockerHosts: 'edge=ssh://deploy@edge', sshHostKeys: `edge=${fp}` });
    expect(hosts.names()).toEqual(['edge']);
  });

  it('has a host verifier that accepts only the pinned key (fingerprint as ssh-keygen -lf)', () => {
    const keyFile = join(dir, 'host_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const other = join(dir, 'other_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const pinned = execFileSync('ssh-keygen', ['-lf', `${keyFile}.pub`], { encoding: 'utf8' }).split(
      /\s+/,
    )[1]!;
    const blob = (f: string) => Buffer.from(readFileSync(`${f}.pub`, 'utf8').split(/\s+/)[1]!, 'base64');
    expect(sshKeyFingerprint(blob(keyFile))).toBe(pinned);

    expect(sshHostVerifier(pinned)(blob(keyFile))).toBe(true);
    expect(sshHostVerifier(pinned)(blob(other))).toBe(false);
    expect(sshHostVerifier(`${pinned}=`)(blob(keyFile))).toBe(true);
  });
});

/** A hand-written Engine fake: sites by name, or a failure. */
function fakeEngine(name: string, sites: string[], fail?: string): Engine {
  const site = (n: string): SiteInfo => ({
    host: name,
    name: n,
    projectDir: null,
    composeFiles: [],
    containers: [],
    state: 'stopped',
  });
  const unsupported = () => {
    throw new Error('not in this fake');
  };
  return {
    name,
    ping: async () => {},
    listSites: async () => {
      if (fail) throw new SiteFlowError(fail, `${name} is down`);
      return sites.map(site);
    },
    site: async (n) => {
      if (!/^[a-z0-9-]+$/.test(n)) throw new SiteFlowError('INPUT_INVALID', 'bad name');
      if (fail) throw new SiteFlowError(fail, `${name} is down`);
      return sites.includes(n) ? site(n) : null;
    },
    containers: unsupported,
    restartContainer: unsupported,
    inspect: unsupported,
    stats: unsupported,
    logs: unsupported,
    pullImage: unsupported,
    imageDigest: unsupported,
    localImage: unsupported,
    tagImage: unsupported,
    removeImage: unsupported,
    events: unsupported,
  };
}

describe('findSite over Hosts', () => {
  const hosts = new Hosts([
    fakeEngine('local', ['blog', 'shop']),
    fakeEngine('nas', ['blog', 'photos']),
    fakeEngine('edge', [], 'DOCKER_UNREACHABLE'),
  ]);
  const find = (host: string | null, name: string) => findSite({ hosts }, { host, name });
  const problem = (r: Awaited<ReturnType<typeof find>>) =>
    r.ok ? null : [r.reply.title, ...r.reply.blocks.map((b) => ('text' in b ? b.text : ''))];

  it('finds a site that exists on one host only', async () => {
    const r = await find(null, 'photos');
    expect(r.ok && [r.engine.name, r.site.name]).toEqual(['nas', 'photos']);
  });

  it('asks for the host when the name exists on several', async () => {
    const r = await find(null, 'blog');
    expect(r.ok).toBe(false);
    expect(problem(r)).toEqual(['"blog" exists on several hosts', 'Say which one: local/blog, nas/blog']);
  });

  it('uses the given host', async () => {
    const r = await find('nas', 'blog');
    expect(r.ok && r.engine.name).toBe('nas');
  });

  it('reports an unknown host with the known ones', async () => {
    expect(problem(await find('mars', 'blog'))).toEqual([
      'Unknown host "mars"',
      'Configured hosts: local, nas, edge',
    ]);
  });

  it('reports not found, naming unreachable hosts', async () => {
    expect(problem(await find(null, 'nope'))).toEqual([
      'No site "nope"',
      'Try /status to list the sites.',
      'Not reachable right now: edge',
    ]);
    expect(problem(await find('local', 'photos'))).toEqual([
      'No site "local/photos"',
      'Try /status to list the sites.',
    ]);
  });

  it('throws an invalid name instead of blaming a host', async () => {
    await expect(find(null, 'Bad Name')).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  });

  it('propagates an unreachable named host', async () => {
    await expect(find('edge', 'x')).rejects.toMatchObject({ code: 'DOCKER_UNREACHABLE' });
  });
});

describe('Hosts.listAllSites', () => {
  const hosts = new Hosts([
    fakeEngine('local', ['blog', 'shop']),
    fakeEngine('nas', ['blog', 'photos']),
    fakeEngine('edge', [], 'DOCKER_UNREACHABLE'),
  ]);

  it('lists all sites and reports failing hosts', async () => {
    const all = await hosts.listAllSites();
    expect(all.sites.map((s) => `${s.host}/${s.name}`)).toEqual([
      'local/blog',
      'local/shop',
      'nas/blog',
      'nas/photos',
    ]);
    expect(all.failures).toEqual([{ host: 'edge', code: 'DOCKER_UNREACHABLE', message: 'edge is down' }]);
  });

  it('refuses duplicate or missing hosts', () => {
    expect(() => new Hosts([])).toThrow(/no Docker host/);
    expect(() => new Hosts([fakeEngine('a', []), fakeEngine('a', [])])).toThrow(/given twice/);
  });
});
