/**
 * Configuration: the only reader of process.env. Every key is declared once here with
 * its zod schema, a description for the README and .env.example, and whether it is a
 * secret (secrets are redacted from every log line). All problems are reported at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';

const positiveInt = z.coerce
  .number({ error: 'expected a whole number' })
  .int()
  .positive('expected a number > 0');
const port = z.coerce
  .number({ error: 'expected a port number' })
  .int('expected a port number')
  .min(0, 'expected a port 0-65535')
  .max(65535, 'expected a port 0-65535');
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
const principal = /^(console|discord|slack):(\*|user:[\w.@-]+|role:\d+|group:[A-Z0-9]+)$/;
const principals = list.refine((xs) => xs.every((x) => principal.test(x)), {
  message:
    'expected comma-separated principals like discord:role:123, discord:user:456, slack:user:U123, slack:group:S123, console:user:alice or console:*',
});

/** One configuration key. */
interface Key<S extends z.ZodType = z.ZodType> {
  schema: S;
  /** Default as the raw string a user would write (shown in README and .env.example). */
  default?: string;
  description: string;
  /** Placeholder for .env.example when there is no default. */
  example?: string;
  secret?: boolean;
  /** Grouping in the README table. */
  group: 'core' | 'docker' | 'provision' | 'permissions' | 'discord' | 'slack' | 'web';
}

const key = <S extends z.ZodType>(k: Key<S>): Key<S> => k;

/** Every configuration key SiteFlow reads. The names are a public interface: users' .env files use them. */
export const KEYS = {
  DATA_DIR: key({
    schema: z.string().min(1),
    default: './data',
    description: 'Where the SQLite database (siteflow.db) and full run logs are kept.',
    group: 'core',
  }),
  SITES_ROOT: key({
    schema: z.string().min(1),
    default: './sites',
    description: 'Folder holding one sub-folder per site, each with its compose file.',
    group: 'core',
  }),
  LOG_LEVEL: key({
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'expected one of fatal, error, warn, info, debug, trace, silent',
    }),
    default: 'info',
    description: 'Log level of the JSON log on stderr.',
    group: 'core',
  }),
  AUDIT_RETENTION_DAYS: key({
    schema: positiveInt,
    default: '90',
    description: 'Audit rows, finished operations and their log files older than this are pruned daily.',
    group: 'core',
  }),
  CONSOLE: key({
    schema: z.enum(['auto', 'on', 'off'], { error: 'expected auto, on or off' }),
    default: 'auto',
    description:
      'Local console chat surface: auto = on when no Discord/Slack credentials are set and stdin is a terminal.',
    group: 'core',
  }),
  CONSOLE_USER: key({
    schema: z.string().regex(/^[\w.@-]{1,64}$/, 'expected a user name (letters, digits, . _ @ -)'),
    default: 'local',
    description:
      'User name of the console surface, as written to the audit log (principal console:user:NAME).',
    group: 'core',
  }),
  SHUTDOWN_GRACE_SECONDS: key({
    schema: positiveInt,
    default: '20',
    description: 'On SIGTERM/SIGINT, how long running operations may finish before they are cancelled.',
    group: 'core',
  }),
  DOCKER_HOSTS: key({
    schema: z.string().min(1),
    default: 'local=unix:///var/run/docker.sock',
    description:
      'Docker engines as name=url pairs, comma-separated (unix://, tcp:// with TLS files in DOCKER_TLS_DIR/NAME, ssh://user@host). A bare URL names a single host "local".',
    group: 'docker',
  }),
  DOCKER_TLS_DIR: key({
    schema: z.string(),
    default: '',
    description: 'Folder with one sub-folder per tcp:// host holding ca.pem, cert.pem and key.pem.',
    group: 'docker',
  }),
  MAX_CONCURRENT_OPERATIONS: key({
    schema: positiveInt,
    default: '4',
    description: 'How many actions may run at once across all sites; more wait in a queue.',
    group: 'docker',
  }),
  ACTION_TIMEOUT_SECONDS: key({
    schema: positiveInt,
    default: '900',
    description:
      'Hard time limit of one action (restart, pull, ...); it is cancelled and marked timed_out after it.',
    group: 'docker',
  }),
  DOCKER_SSH_KEY_PATH: key({
    schema: z.string(),
    default: '',
    description: 'Private key for ssh:// Docker hosts (the ssh-agent at SSH_AUTH_SOCK is used when unset).',
    group: 'docker',
  }),
  DOCKER_RETRY_SECONDS: key({
    schema: positiveInt,
    default: '10',
    description: 'How often an unreachable Docker engine is tried again.',
    group: 'docker',
  }),
  HEALTH_TIMEOUT_SECONDS: key({
    schema: positiveInt,
    default: '120',
    description: 'How long restarted or recreated containers get to become healthy before the action fails.',
    group: 'docker',
  }),
  PULL_STALL_SECONDS: key({
    schema: positiveInt,
    default: '180',
    description: 'A pull fails only when no byte has moved for this long; a slow pull keeps running.',
    group: 'docker',
  }),
  TEMPLATES_DIR: key({
    schema: z.string(),
    default: '',
    description:
      'Folder of your own site templates (one sub-folder each, same layout as the built-in templates/). A same-named template replaces the built-in one; a broken template is reported at start.',
    group: 'provision',
  }),
  CADDY_SITES_DIR: key({
    schema: z.string(),
    default: '',
    description:
      'Folder your Caddyfile imports (`import DIR/*.caddy`); /provision writes NAME.caddy there. Provisioning is off while unset.',
    group: 'provision',
  }),
  CADDYFILE: key({
    schema: z.string(),
    default: '',
    description:
      'The main Caddyfile (the one that imports CADDY_SITES_DIR). Used with CADDY_ADMIN_URL: SiteFlow runs `caddy adapt --validate` on it and loads the result through the admin API.',
    group: 'provision',
  }),
  CADDY_ADMIN_URL: key({
    schema: z.union([z.literal(''), z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' })]),
    default: 'http://127.0.0.1:2019',
    description: "Caddy's admin API (POST /load). Ignored when CADDY_RELOAD_COMMAND is set.",
    group: 'provision',
  }),
  CADDY_RELOAD_COMMAND: key({
    schema: z.string(),
    default: '',
    description:
      'Instead of the admin API: a command that validates and reloads Caddy, as words separated by spaces (no shell), e.g. `systemctl reload caddy` or `caddy reload --config /etc/caddy/Caddyfile`.',
    group: 'provision',
  }),
  CADDY_BIN: key({
    schema: z.string().min(1),
    default: 'caddy',
    description: 'The caddy executable (for `caddy adapt`).',
    group: 'provision',
  }),
  CADDY_SITE_PORT: key({
    schema: z.union([z.literal(''), port]),
    default: '',
    description:
      'When set, site snippets listen on plain http://DOMAIN:PORT (e.g. behind another proxy); when empty they use DOMAIN with Caddy\'s automatic HTTPS.',
    group: 'provision',
  }),
  KEEP_ON_FAILURE: key({
    schema: z.enum(['true', 'false'], { error: 'expected true or false' }).transform((v) => v === 'true'),
    default: 'false',
    description:
      'When a provision fails, keep what was already done (folder, snippet, containers) for debugging instead of undoing it.',
    group: 'provision',
  }),
  PROVISION_HEALTH_TIMEOUT_SECONDS: key({
    schema: positiveInt,
    default: '300',
    description:
      'How long a new site gets to become healthy (containers, databases, HTTP checks) before the provision is undone.',
    group: 'provision',
  }),
  IMAGE_OVERRIDES: key({
    schema: list.refine((xs) => xs.every((x) => /^[^=\s]+=[^=\s]+$/.test(x)), {
      message: 'expected comma-separated FROM=TO image pairs, e.g. nginx:1.27-alpine=mirror.local/nginx:1.27-alpine',
    }),
    default: '',
    description:
      'Replaces pinned template images, as FROM=TO pairs (exact references), e.g. to use a private registry or mirror: `mariadb:11.4=registry.lan/mariadb:11.4`.',
    group: 'provision',
  }),
  PROVISION_LABELS: key({
    schema: list.refine((xs) => xs.every((x) => /^[a-z0-9][a-z0-9._-]{0,99}=[A-Za-z0-9._:@/+-]{0,200}$/.test(x)), {
      message: 'expected comma-separated key=value labels (lowercase dotted keys, plain values)',
    }),
    default: '',
    description:
      'Extra Docker labels put on every service, network and volume of provisioned sites, as key=value pairs.',
    group: 'provision',
  }),
  ADMINS: key({
    schema: principals,
    default: 'console:*',
    description:
      'Who is admin (provision, deprovision, cancel any): principals such as discord:role:ID, discord:user:ID, slack:user:ID, slack:group:ID, console:user:NAME, console:*.',
    group: 'permissions',
  }),
  OPERATORS: key({
    schema: principals,
    default: '',
    description:
      'Who is operator (restart, pull, cancel own): same principal syntax. Everyone else is a viewer.',
    group: 'permissions',
  }),
  WEB_HOST: key({
    schema: z.string().min(1),
    default: '127.0.0.1',
    description:
      'Address the status page listens on. Loopback by default; put a reverse proxy in front to share it.',
    group: 'web',
  }),
  WEB_PORT: key({
    schema: port,
    default: '8080',
    description: 'Port of the status page, /healthz and /metrics (0 picks a free port).',
    group: 'web',
  }),
} satisfies Record<string, Key>;

type Keys = typeof KEYS;
/** The validated configuration, keyed by environment variable name. */
export type Config = { [K in keyof Keys]: z.output<Keys[K]['schema']> } & {
  /** Values of secret keys that are set; the logger redacts them anywhere. */
  readonly secrets: readonly string[];
};

/** One problem with one key. */
export interface ConfigProblem {
  key: string;
  problem: string;
}

/** Thrown (once, with every problem) when the configuration is invalid. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems
        .map((p) => `  ${p.key}: ${p.problem}`)
        .join('\n')}`,
    );
  }
}

/**
 * Reads the environment (and a .env file, whose values the real environment overrides),
 * validates every key and returns the typed config or throws one ConfigError listing
 * every problem. Unknown keys are ignored: the environment holds many other things.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  opts: { envFile?: string | null } = {},
): Config {
  const file = opts.envFile === undefined ? (env.SITEFLOW_ENV_FILE ?? '.env') : opts.envFile;
  const fromFile = file && existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  const merged: Record<string, string | undefined> = { ...fromFile, ...env };
  const out: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  const secrets: string[] = [];
  for (const [name, k] of Object.entries(KEYS) as [string, Key][]) {
    const raw = merged[name]?.trim() || undefined;
    const value = raw ?? k.default;
    if (value === undefined) {
      out[name] = undefined;
      continue;
    }
    const r = k.schema.safeParse(value);
    if (r.success) {
      out[name] = r.data;
      if (k.secret && raw) secrets.push(raw);
    } else {
      problems.push({ key: name, problem: r.error.issues.map((i) => i.message).join('; ') });
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { ...(out as Omit<Config, 'secrets'>), secrets };
}

/** Key metadata for docs and the .env.example check. */
export function describeKeys(): Array<{
  name: string;
  default: string | undefined;
  description: string;
  secret: boolean;
  group: string;
  example: string | undefined;
}> {
  return (Object.entries(KEYS) as [string, Key][]).map(([name, k]) => ({
    name,
    default: k.default,
    description: k.description,
    secret: k.secret ?? false,
    group: k.group,
    example: k.example,
  }));
}
