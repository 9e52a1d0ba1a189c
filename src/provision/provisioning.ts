/** Everything /provision, /deprovision and /templates need, built once from the config. */
import type { Config } from '../config.js';
import type { SiteFolder } from '../core/engine.js';
import { SiteFlowError } from '../core/errors.js';
import { isLoopbackHost } from '../core/net.js';
import type { Logger } from '../core/ports.js';
import type { SqliteProvisionJournal } from '../db/sqlite-provision-journal.js';
import { checkHostPath, parseHostPairs, parseHostPaths } from '../docker/hosts.js';
import { SftpSiteFolders } from '../docker/remote-compose.js';
import { siteFolder } from '../docker/site-folders.js';
import type { SshConnection } from '../docker/ssh-connection.js';
import { type Caddy, CaddyReloader } from './caddy.js';
import { type HostAccess, localAccess, sshAccess } from './host-access.js';
import { builtInTemplatesDir, TemplateCatalog } from './template-catalog.js';

/** A host sites can be provisioned on: its sites folder, its Caddy and the way to reach it. */
export interface ProvisionTarget {
  host: string;
  /** SITES_ROOT for this machine's host, the host's SITES_ROOTS entry for an ssh:// host. */
  sitesRoot: string;
  /** Null when the host has no Caddy configured: provisioning there is then off. */
  caddy: Caddy | null;
  access: HostAccess;
  /** The site folder `sitesRoot/name` with its compose file, or null. */
  folder(name: string): Promise<SiteFolder | null>;
}

/** Provisioning settings from the config. */
export interface ProvisionSettings {
  /** `/provision NAME T` without a domain uses NAME.baseDomain. */
  baseDomain: string;
  /** Plain-HTTP port of site addresses, or null for automatic HTTPS. */
  caddyPort: number | null;
  keepOnFailure: boolean;
  healthTimeoutMs: number;
  imageOverrides: ReadonlyMap<string, string>;
  labels: Readonly<Record<string, string>>;
}

/** The provisioning part of the services bag. */
export interface Provisioning {
  catalog: TemplateCatalog;
  /** This machine's Caddy; null when CADDY_SITES_DIR is not set. */
  caddy: Caddy | null;
  settings: ProvisionSettings;
  /** Every host with a sites folder: the SITES_ROOT host and each ssh:// host of SITES_ROOTS. */
  targets: ReadonlyMap<string, ProvisionTarget>;
  /** Steps of running provisions, for the undo after a crash (set by the composition root). */
  journal?: SqliteProvisionJournal;
}

/** `a=b,c=d` pairs (already split by the config) as a map. */
function pairs(xs: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const x of xs) {
    const i = x.indexOf('=');
    if (i > 0) m.set(x.slice(0, i), x.slice(i + 1));
  }
  return m;
}

/** What createProvisioning needs of the Docker hosts. */
export interface ProvisionHosts {
  sitesRootHost(): string;
  readonly ssh: ReadonlyMap<string, SshConnection>;
  /** SITES_ROOTS as Hosts checked it: each ssh:// host's site folder there. */
  readonly sitesRoots: ReadonlyMap<string, string>;
}

const isRemoteAdminUrl = (v: string): string | null => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'expected http://127.0.0.1:PORT';
  }
  if (u.protocol !== 'http:' || !isLoopbackHost(u.hostname) || u.pathname.length > 1)
    return "expected http://127.0.0.1:PORT: the admin API on that host's loopback, reached through SSH";
  return null;
};

/** The ssh:// hosts' targets from their SITES_ROOTS folders, CADDY_SITES_DIRS, CADDYFILES, CADDY_ADMIN_URLS. */
function remoteTargets(config: Config, hosts: ProvisionHosts | undefined): ProvisionTarget[] {
  const problems: string[] = [];
  const parsed = (key: string, r: ReturnType<typeof parseHostPairs>) => {
    if (r.ok) return r.value;
    problems.push(`${key}: ${r.error.join('; ')}`);
    return new Map<string, string>();
  };
  const roots = hosts?.sitesRoots ?? new Map<string, string>();
  const dirs = parsed('CADDY_SITES_DIRS', parseHostPaths(config.CADDY_SITES_DIRS));
  const files = parsed(
    'CADDYFILES',
    parseHostPairs(config.CADDYFILES, checkHostPath, undefined, 'host=/path'),
  );
  const admins = parsed(
    'CADDY_ADMIN_URLS',
    parseHostPairs(
      config.CADDY_ADMIN_URLS,
      isRemoteAdminUrl,
      (v) => v.replace(/\/+$/, ''),
      'host=http://127.0.0.1:PORT',
    ),
  );
  // Cross-checks only on keys that parsed: a dropped entry would read as a missing one.
  if (problems.length) throw new SiteFlowError('CONFIG_INVALID', problems.join('; '));
  for (const [key, m] of [
    ['CADDY_SITES_DIRS', dirs],
    ['CADDYFILES', files],
    ['CADDY_ADMIN_URLS', admins],
  ] as const)
    for (const name of m.keys()) {
      if (!hosts?.ssh.has(name))
        problems.push(`${key} names ${name}, which is not an ssh:// host in DOCKER_HOSTS`);
      else if (!roots.has(name)) problems.push(`${key} names ${name}, which has no SITES_ROOTS folder`);
    }
  for (const name of dirs.keys())
    if (!files.has(name) || !admins.has(name))
      problems.push(`CADDY_SITES_DIRS names ${name}: give its CADDYFILES and CADDY_ADMIN_URLS entries too`);
  if (problems.length) throw new SiteFlowError('CONFIG_INVALID', problems.join('; '));
  const out: ProvisionTarget[] = [];
  for (const [host, sitesRoot] of roots) {
    const conn = hosts?.ssh.get(host);
    if (!conn) continue; // Hosts.fromConfig has refused this already
    const access = sshAccess(conn);
    const sitesDir = dirs.get(host);
    const folders = new SftpSiteFolders(conn, sitesRoot);
    out.push({
      host,
      sitesRoot,
      access,
      folder: (name) => folders.folder(name),
      caddy: sitesDir
        ? new CaddyReloader({
            sitesDir,
            caddyfile: files.get(host)!,
            adminUrl: admins.get(host)!,
            reloadCommand: null,
            bin: config.CADDY_BIN,
            access,
          })
        : null,
    });
  }
  return out;
}

/** Loads the templates (logging every broken one) and configures each host's Caddy. */
export function createProvisioning(config: Config, logger: Logger, hosts?: ProvisionHosts): Provisioning {
  const dirs: Array<{ dir: string; source: 'built-in' | 'user' }> = [
    { dir: builtInTemplatesDir(), source: 'built-in' },
  ];
  if (config.TEMPLATES_DIR) dirs.push({ dir: config.TEMPLATES_DIR, source: 'user' });
  const catalog = TemplateCatalog.load(dirs);
  for (const b of catalog.broken)
    logger.error(
      { template: b.name, dir: b.dir, problems: b.problems },
      `template "${b.name}" is broken and cannot be used: ${b.problems.join('; ')}`,
    );
  logger.info({ templates: catalog.names() }, 'site templates loaded');
  const caddy = config.CADDY_SITES_DIR
    ? new CaddyReloader({
        sitesDir: config.CADDY_SITES_DIR,
        caddyfile: config.CADDYFILE || null,
        adminUrl: config.CADDY_ADMIN_URL || null,
        reloadCommand: config.CADDY_RELOAD_COMMAND
          ? config.CADDY_RELOAD_COMMAND.split(/\s+/).filter(Boolean)
          : null,
        bin: config.CADDY_BIN,
      })
    : null;
  const targets = new Map<string, ProvisionTarget>();
  const localHost = hosts?.sitesRootHost() ?? 'local';
  targets.set(localHost, {
    host: localHost,
    sitesRoot: config.SITES_ROOT,
    caddy,
    access: localAccess(),
    folder: (name) => siteFolder(config.SITES_ROOT, name),
  });
  for (const t of remoteTargets(config, hosts)) targets.set(t.host, t);
  return {
    catalog,
    caddy,
    targets,
    settings: {
      baseDomain: config.PROVISION_BASE_DOMAIN || 'localhost',
      caddyPort: config.CADDY_SITE_PORT === '' ? null : config.CADDY_SITE_PORT,
      keepOnFailure: config.KEEP_ON_FAILURE,
      healthTimeoutMs: config.PROVISION_HEALTH_TIMEOUT_SECONDS * 1000,
      imageOverrides: pairs(config.IMAGE_OVERRIDES),
      labels: Object.fromEntries(pairs(config.PROVISION_LABELS)),
    },
  };
}
