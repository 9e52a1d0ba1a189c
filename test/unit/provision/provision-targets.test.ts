/**
 * Which hosts /provision can target: the SITES_ROOT host, and each ssh:// host of SITES_ROOTS with
 * its Caddy from CADDY_SITES_DIRS, CADDYFILES and CADDY_ADMIN_URLS. Bad per-host keys are refused
 * at start with every problem named. No connection is opened here (SshConnection connects on use).
 */
import { describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../../src/config.js';
import { parseHostPaths } from '../../../src/docker/hosts.js';
import { SshConnection } from '../../../src/docker/ssh-connection.js';
import { createProvisioning } from '../../../src/provision/provisioning.js';

const logger = { info() {}, warn() {}, error() {}, debug() {} } as never;

/** Hosts as Hosts.fromConfig makes them from `config`: `ssh` are its ssh:// hosts. */
function hosts(config: Config, ...ssh: string[]) {
  const m = new Map<string, SshConnection>();
  for (const name of ssh)
    m.set(
      name,
      new SshConnection({
        name,
        host: '127.0.0.1',
        port: 1,
        username: 'u',
        hostKey: `SHA256:${'A'.repeat(43)}`,
      }),
    );
  const roots = parseHostPaths(config.SITES_ROOTS);
  return {
    sitesRootHost: () => 'local',
    ssh: m,
    sitesRoots: roots.ok ? roots.value : new Map<string, string>(),
  };
}

/** createProvisioning for `config` and its hosts (`ssh` its ssh:// ones). */
const withHosts = (config: Config, ssh: string[]) =>
  createProvisioning(config, logger, hosts(config, ...ssh));

const cfg = (env: Record<string, string>) =>
  loadConfig({ SITES_ROOT: '/srv/local-sites', ...env }, { envFile: null });

describe('provision targets', () => {
  it('the local host, and each ssh:// host with a SITES_ROOTS folder, with its own Caddy when configured', () => {
    const p = withHosts(
      cfg({
        SITES_ROOTS: 'edge=/srv/sites,nas=/data/sites/',
        CADDY_SITES_DIRS: 'edge=/etc/caddy/sites/',
        CADDYFILES: 'edge=/etc/caddy/Caddyfile',
        CADDY_ADMIN_URLS: 'edge=http://127.0.0.1:2019/',
      }),
      ['edge', 'nas'],
    );
    expect([...p.targets.keys()]).toEqual(['local', 'edge', 'nas']);
    const edge = p.targets.get('edge')!;
    expect(edge.sitesRoot).toBe('/srv/sites');
    expect(edge.access.where).toBe('host edge');
    expect(edge.caddy?.snippetPath('blog')).toBe('/etc/caddy/sites/blog.caddy');
    expect(p.targets.get('nas')!.sitesRoot).toBe('/data/sites');
    expect(p.targets.get('nas')!.caddy).toBeNull(); // no Caddy there: provisioning on nas is off
    expect(p.targets.get('local')!.sitesRoot).toBe('/srv/local-sites');
    expect(p.targets.get('local')!.access.where).toBe('this machine');
  });

  it('refuses malformed per-host Caddy keys, naming every problem', () => {
    const make = () =>
      withHosts(
        cfg({
          SITES_ROOTS: 'edge=/srv/sites',
          CADDY_SITES_DIRS: 'edge=/etc/caddy/sites',
          CADDYFILES: 'edge=relative/Caddyfile',
          CADDY_ADMIN_URLS: 'edge=http://10.0.0.5:2019',
        }),
        ['edge'],
      );
    expect(make).toThrowError(/CADDYFILES: edge: expected an absolute path/);
    expect(make).toThrowError(/CADDY_ADMIN_URLS: edge: expected http:\/\/127\.0\.0\.1:PORT/);
  });

  it('refuses per-host Caddy keys for hosts that are not ssh:// hosts with a sites folder', () => {
    const make = () =>
      withHosts(
        cfg({
          SITES_ROOTS: 'edge=/srv/sites',
          CADDY_SITES_DIRS: 'edge=/etc/caddy/sites,ghost=/x',
          CADDYFILES: 'edge=/etc/caddy/Caddyfile,ghost=/x/Caddyfile',
          CADDY_ADMIN_URLS:
            'edge=http://127.0.0.1:2019,ghost=http://127.0.0.1:2019,nas=http://127.0.0.1:2019',
        }),
        ['edge', 'nas'],
      );
    expect(make).toThrowError(/CADDY_SITES_DIRS names ghost, which is not an ssh:\/\/ host/);
    expect(make).toThrowError(/CADDY_ADMIN_URLS names nas, which has no SITES_ROOTS folder/);
    expect(make).not.toThrowError(/names edge/);
  });

  it('a host in CADDY_SITES_DIRS needs its CADDYFILES and CADDY_ADMIN_URLS entries', () => {
    expect(() =>
      withHosts(cfg({ SITES_ROOTS: 'edge=/srv/sites', CADDY_SITES_DIRS: 'edge=/etc/caddy/sites' }), ['edge']),
    ).toThrowError(/CADDY_SITES_DIRS names edge: give its CADDYFILES and CADDY_ADMIN_URLS entries too/);
  });
});
