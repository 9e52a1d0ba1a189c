/** Everything /provision, /deprovision and /templates need, built once from the config. */
import type { Config } from '../config.js';
import type { Logger } from '../core/ports.js';
import type { SqliteProvisionJournal } from '../db/sqlite-provision-journal.js';
import { type Caddy, CaddyReloader } from './caddy.js';
import { builtInTemplatesDir, TemplateCatalog } from './template-catalog.js';

/** Provisioning settings from the config. */
export interface ProvisionSettings {
  sitesRoot: string;
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
  /** Null when CADDY_SITES_DIR is not set: provisioning is then off. */
  caddy: Caddy | null;
  settings: ProvisionSettings;
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

/** Loads the templates (logging every broken one) and configures Caddy. */
export function createProvisioning(config: Config, logger: Logger): Provisioning {
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
  return {
    catalog,
    caddy,
    settings: {
      sitesRoot: config.SITES_ROOT,
      baseDomain: config.PROVISION_BASE_DOMAIN || 'localhost',
      caddyPort: config.CADDY_SITE_PORT === '' ? null : config.CADDY_SITE_PORT,
      keepOnFailure: config.KEEP_ON_FAILURE,
      healthTimeoutMs: config.PROVISION_HEALTH_TIMEOUT_SECONDS * 1000,
      imageOverrides: pairs(config.IMAGE_OVERRIDES),
      labels: Object.fromEntries(pairs(config.PROVISION_LABELS)),
    },
  };
}
