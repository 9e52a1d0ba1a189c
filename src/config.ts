/**
 * Configuration: the only reader of process.env. Every key is declared once here with
 * its zod schema, a description for the README and .env.example, and whether it is a
 * secret (secrets are redacted from every log line). All problems are reported at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import cron from 'node-cron';
import { z } from 'zod';
import type { AlertRoutes } from './core/alert-routes.js';
import { parseBackupMap } from './core/backup.js';
import { isTimeZone } from './core/format.js';
import { isLoopbackHost } from './core/net.js';
import {
  isHttpUrl,
  parseNtfyUrl,
  parseWebhookUrls,
  smtpUrlPassword,
  webhookUrlsOf,
} from './core/notify-targets.js';
import { readAlertRoutes } from './monitor/alert-routes-file.js';

const positiveInt = z.coerce
  .number({ error: 'expected a whole number' })
  .int()
  .positive('expected a number > 0');
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const seconds = z.coerce.number({ error: 'expected a number of seconds' }).min(0, 'expected a number >= 0');
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
  /** Further secret values inside a secret key's value (each URL of a list, a password in a URL). */
  secretParts?: (value: string) => string[];
  /** An empty value means empty (e.g. `ADMINS=` grants nobody), not "use the default". */
  emptyIsValue?: boolean;
  /** Grouping in the README table. */
  group:
    | 'core'
    | 'docker'
    | 'provision'
    | 'permissions'
    | 'discord'
    | 'slack'
    | 'backup'
    | 'monitor'
    | 'notify'
    | 'web';
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
  SITES_ROOTS: key({
    schema: z.string(),
    default: '',
    example: 'edge=/srv/sites',
    description:
      "Site folders of ssh:// hosts, on those hosts, as host=/path pairs (comma-separated); read over SFTP and merged with that host's compose projects, compose runs there. SITES_ROOT stays this machine's.",
    group: 'core',
  }),
  SITES_SCOPE: key({
    schema: z.enum(['managed', 'all'], { error: 'expected managed or all' }),
    default: 'managed',
    description:
      'Which compose projects are sites: managed = those whose folder is under SITES_ROOT or with a container labelled siteflow.manage=true; all = every compose project on every host (logs a warning at start).',
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
  DISK_MIN_FREE_MB: key({
    schema: positiveInt,
    default: '500',
    description:
      'Below this much free space in DATA_DIR (or when a write there fails for lack of space) /healthz reports checks.disk false and one disk alert is posted; one recovery follows when space returns.',
    group: 'core',
  }),
  RUN_LOG_MAX_MB: key({
    schema: positiveInt,
    default: '50',
    description: 'Largest full log kept per run; output beyond it is dropped, with a marker line.',
    group: 'core',
  }),
  ARCHIVE_RETENTION_DAYS: key({
    schema: z.coerce.number({ error: 'expected a whole number' }).int().min(0, 'expected a number >= 0'),
    default: '180',
    description:
      'Archives of deprovisioned sites (SITES_ROOT/.archive) older than this are deleted daily; 0 keeps them forever.',
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
  TZ: key({
    schema: z.string().refine((v) => v === '' || isTimeZone(v), {
      message: 'expected an IANA time zone such as Europe/Berlin or UTC',
    }),
    default: '',
    example: 'Europe/Berlin',
    description:
      "Time zone of the times shown as text: console, status page, code blocks and fallbacks. Unset: the process time zone (UTC in the image). Discord and Slack show their timestamps in each reader's own zone.",
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
      'Docker engines as name=url pairs, comma-separated (unix://, tcp:// with TLS files in DOCKER_TLS_DIR/NAME, ssh://user@host[:port][?socket=/path/of/docker.sock], one SSH connection per host with its key pinned in DOCKER_SSH_HOST_KEYS). A bare URL names a single host "local".',
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
  MAX_CONCURRENT_READS: key({
    schema: positiveInt,
    default: '8',
    description:
      'How many read-only operations (/logs, including follows) may run at once; more are refused.',
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
  SSH_AUTH_SOCK: key({
    schema: z.string(),
    default: '',
    description:
      'The ssh-agent socket used for ssh:// Docker hosts when DOCKER_SSH_KEY_PATH is unset (set by ssh-agent; the agent holds the key).',
    group: 'docker',
  }),
  DOCKER_SSH_HOST_KEYS: key({
    schema: z.string().refine(
      (v) =>
        v
          .split(',')
          .map((e) => e.trim())
          .filter(Boolean)
          .every((e) => /^[a-z0-9_-]+=SHA256:[A-Za-z0-9+/]{43}=?$/.test(e)),
      { message: 'expected comma-separated name=SHA256:<base64> pairs, as `ssh-keygen -lf` prints the key' },
    ),
    default: '',
    example: 'edge=SHA256:<43 characters>',
    description:
      'Pinned SSH host keys of the ssh:// Docker hosts as name=SHA256:... pairs (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on each host). Required for every ssh:// host: an unknown or changed key is refused.',
    group: 'docker',
  }),
  DOCKER_RETRY_SECONDS: key({
    schema: positiveInt,
    default: '10',
    description: 'How often an unreachable Docker engine is tried again.',
    group: 'docker',
  }),
  DOCKER_CALL_TIMEOUT_SECONDS: key({
    schema: positiveInt,
    default: '30',
    description:
      'Deadline of every Docker engine call (a restart or stop gets its stop timeout on top); also the connect deadline and keepalive interval of event and log streams. A host that does not answer in time counts as not answering.',
    group: 'docker',
  }),
  HEALTH_TIMEOUT_SECONDS: key({
    schema: positiveInt,
    default: '120',
    description: 'How long restarted or recreated containers get to become healthy before the action fails.',
    group: 'docker',
  }),
  ROLLBACK_ON_FAILURE: key({
    schema: bool,
    default: 'true',
    description:
      'When services recreated by /pull or /up do not come up healthy, recreate them with their previous image (kept locally until the change succeeded).',
    group: 'docker',
  }),
  PRUNE_AFTER_PULL: key({
    schema: bool,
    default: 'true',
    description:
      'After a successful /pull or /up, remove the superseded images no container uses; false keeps each under a `sf-prev-*` tag.',
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
  CADDY_SITES_DIRS: key({
    schema: z.string(),
    default: '',
    example: 'edge=/etc/caddy/sites',
    description:
      "CADDY_SITES_DIR of ssh:// hosts, on those hosts, as host=/path pairs (comma-separated): /provision HOST writes NAME.caddy there over SFTP. Needs the host's SITES_ROOTS, CADDYFILES and CADDY_ADMIN_URLS entries. CADDY_SITES_DIR stays this machine's.",
    group: 'provision',
  }),
  CADDYFILES: key({
    schema: z.string(),
    default: '',
    example: 'edge=/etc/caddy/Caddyfile',
    description:
      'The main Caddyfile of each ssh:// host in CADDY_SITES_DIRS, on that host (host=/path pairs): SiteFlow runs `CADDY_BIN adapt --validate` on it there, over SSH.',
    group: 'provision',
  }),
  CADDY_ADMIN_URLS: key({
    schema: z.string(),
    default: '',
    example: 'edge=http://127.0.0.1:2019',
    description:
      "Caddy's admin API of each ssh:// host in CADDY_SITES_DIRS, as that host sees it (host=http://127.0.0.1:PORT pairs, loopback only): reached through a port forward of that host's SSH connection, never exposed.",
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
      "When set, site snippets listen on plain http://DOMAIN:PORT (e.g. behind another proxy); when empty they use DOMAIN with Caddy's automatic HTTPS.",
    group: 'provision',
  }),
  PROVISION_BASE_DOMAIN: key({
    schema: z
      .string()
      .regex(/^$|^[a-z0-9](?:[a-z0-9.-]{0,200}[a-z0-9])?$/, 'expected a domain such as example.com'),
    default: 'localhost',
    description: '/provision NAME TEMPLATE without a domain gives the site NAME.<this domain>.',
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
      message:
        'expected comma-separated FROM=TO image pairs, e.g. nginx:1.27-alpine=mirror.local/nginx:1.27-alpine',
    }),
    default: '',
    description:
      'Replaces pinned template images, as FROM=TO pairs (exact references), e.g. to use a private registry or mirror: `mariadb:11.4=registry.lan/mariadb:11.4`.',
    group: 'provision',
  }),
  PROVISION_LABELS: key({
    schema: list.refine(
      (xs) => xs.every((x) => /^[a-z0-9][a-z0-9._-]{0,99}=[A-Za-z0-9._:@/+-]{0,200}$/.test(x)),
      {
        message: 'expected comma-separated key=value labels (lowercase dotted keys, plain values)',
      },
    ),
    default: '',
    description:
      'Extra Docker labels put on every service, network and volume of provisioned sites, as key=value pairs.',
    group: 'provision',
  }),
  ADMINS: key({
    schema: principals,
    emptyIsValue: true,
    default: 'console:*',
    description:
      'Who is admin (provision, deprovision, cancel any): principals such as discord:role:ID, discord:user:ID, slack:user:ID, slack:group:ID, console:user:NAME, console:*.',
    group: 'permissions',
  }),
  OPERATORS: key({
    schema: principals,
    emptyIsValue: true,
    default: '',
    description:
      'Who is operator (restart, pull, cancel own): same principal syntax. Everyone else is a viewer.',
    group: 'permissions',
  }),
  LOGS_LEVEL: key({
    schema: z.enum(['viewer', 'operator', 'admin'], { error: 'expected viewer, operator or admin' }),
    default: 'operator',
    description:
      "Who may read containers' output with /logs (and the alert Logs button): viewer, operator or admin. Output can hold secrets SiteFlow cannot know of, so not every viewer by default.",
    group: 'permissions',
  }),
  CONFIRM_PULL: key({
    schema: bool,
    default: 'false',
    description: 'Ask for a confirmation button before /pull recreates containers.',
    group: 'permissions',
  }),
  DISCORD_TOKEN: key({
    schema: z.string(),
    default: '',
    example: '<bot token from the Discord developer portal>',
    description: 'Enables the Discord surface: the bot token.',
    secret: true,
    group: 'discord',
  }),
  DISCORD_GUILD_ID: key({
    schema: z.string().regex(/^(\d{5,25})?$/, 'expected a Discord server (guild) id'),
    default: '',
    description:
      'The home Discord server (guild) id: commands are registered there and, unless DISCORD_ALLOWED_GUILDS says otherwise, only it is served.',
    group: 'discord',
  }),
  DISCORD_ALLOWED_GUILDS: key({
    schema: list.refine((xs) => xs.every((x) => /^\d{5,25}$/.test(x)), {
      message: 'expected comma-separated Discord server (guild) ids',
    }),
    default: '',
    description:
      'Discord servers (guild ids, comma-separated) whose interactions SiteFlow answers; default DISCORD_GUILD_ID. Others and DMs get a short refusal (audited). Commands are registered in each; stale global commands are removed. The Discord surface does not start while neither this nor DISCORD_GUILD_ID is set.',
    group: 'discord',
  }),
  DISCORD_API_URL: key({
    schema: z.string().regex(/^(https?:\/\/.+)?$/, 'expected an http(s) URL'),
    default: '',
    description:
      "Discord's REST base, e.g. http://127.0.0.1:PORT/api for a proxy or compatible server; the gateway URL then comes from its /gateway/bot.",
    group: 'discord',
  }),
  DISCORD_ALERT_CHANNEL_ID: key({
    schema: z.string().regex(/^(\d{5,25})?$/, 'expected a Discord channel id'),
    default: '',
    description: 'Channel for alerts from the monitor.',
    group: 'discord',
  }),
  CHAT_REQUEST_TIMEOUT_SECONDS: key({
    schema: positiveInt,
    default: '15',
    description:
      'Discord and Slack: one API request without an answer this long is abandoned and retried with backoff, so a hung request never holds up later messages.',
    group: 'discord',
  }),
  SLACK_BOT_TOKEN: key({
    schema: z.string(),
    default: '',
    example: '<xoxb- bot token>',
    description:
      'Enables the Slack surface (with SLACK_SIGNING_SECRET for HTTP mode or SLACK_APP_TOKEN for Socket Mode).',
    secret: true,
    group: 'slack',
  }),
  SLACK_SIGNING_SECRET: key({
    schema: z.string(),
    default: '',
    example: '<signing secret>',
    description: 'HTTP mode: verifies that requests come from Slack.',
    secret: true,
    group: 'slack',
  }),
  SLACK_APP_TOKEN: key({
    schema: z.string(),
    default: '',
    example: '<xapp- app-level token>',
    description: 'Socket Mode (no public URL needed): the app-level token with connections:write.',
    secret: true,
    group: 'slack',
  }),
  SLACK_ALLOWED_TEAMS: key({
    schema: list.refine((xs) => xs.every((x) => /^[TE][A-Z0-9]{2,24}$/.test(x)), {
      message: 'expected comma-separated Slack team (T...) or enterprise (E...) ids',
    }),
    default: '',
    description:
      "More Slack workspaces (T...) or Enterprise Grid orgs (E...) to serve besides the bot token's own (from auth.test); requests from any other are refused (audited).",
    group: 'slack',
  }),
  SLACK_PORT: key({
    schema: port,
    default: '3000',
    description: 'HTTP mode: port of the /slack/events endpoint.',
    group: 'slack',
  }),
  SLACK_HOST: key({
    schema: z.string().min(1),
    default: '127.0.0.1',
    description:
      'HTTP mode: address of the /slack/events endpoint. Slack needs an https URL, so put a reverse proxy in front; use 0.0.0.0 only if that proxy runs elsewhere.',
    group: 'slack',
  }),
  SLACK_API_URL: key({
    schema: z.string().regex(/^(https?:\/\/.+\/)?$/, 'expected an http(s) URL ending in /'),
    default: '',
    description: "Slack's Web API base, e.g. http://127.0.0.1:PORT/api/ for a proxy or compatible server.",
    group: 'slack',
  }),
  SLACK_COMMANDS: key({
    schema: z.enum(['umbrella', 'individual', 'both'], { error: 'expected umbrella, individual or both' }),
    default: 'umbrella',
    description:
      'Serve one /siteflow command (/siteflow restart blog), one Slack command per SiteFlow command, or both.',
    group: 'slack',
  }),
  SLACK_ALERT_CHANNEL: key({
    schema: z.string(),
    default: '',
    description: 'Channel id for alerts from the monitor.',
    group: 'slack',
  }),
  NAS_HOST: key({
    schema: z.string().regex(/^$|^[A-Za-z0-9.:_-]{1,253}$/, 'expected a host name or IP address'),
    default: '',
    description:
      'Enables NAS backup checks: the NAS to reach over SSH/SFTP (only readdir/stat are used, never a shell).',
    group: 'backup',
  }),
  NAS_PORT: key({
    schema: port,
    default: '22',
    description: 'SSH port of the NAS.',
    group: 'backup',
  }),
  NAS_USER: key({
    schema: z.string().regex(/^$|^[A-Za-z0-9._@-]{1,64}$/, 'expected a user name'),
    default: '',
    description: 'SSH user on the NAS; it only needs read access to the backup folders.',
    group: 'backup',
  }),
  NAS_PRIVATE_KEY_PATH: key({
    schema: z.string(),
    default: '',
    description:
      'Private key file for the NAS user (unencrypted OpenSSH or PEM). Either this or NAS_PASSWORD.',
    group: 'backup',
  }),
  NAS_PASSWORD: key({
    schema: z.string(),
    default: '',
    description: 'Password of the NAS user, when no key is used.',
    secret: true,
    group: 'backup',
  }),
  NAS_HOST_KEY: key({
    schema: z
      .string()
      .regex(/^$|^SHA256:[A-Za-z0-9+/]{43}=?$/, 'expected SHA256:<base64> as `ssh-keygen -lf` prints it'),
    default: '',
    example: 'SHA256:<43 characters>',
    description:
      "The NAS's pinned SSH host key fingerprint (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the NAS). Required: an unknown or changed key is refused.",
    group: 'backup',
  }),
  NAS_BACKUP_ROOT: key({
    schema: z.string().regex(/^$|^\/.*$/, 'expected an absolute path such as /volume1/backups'),
    default: '',
    example: '/volume1/backups',
    description: 'Folder on the NAS holding one sub-folder of backups per site (NAS_BACKUP_ROOT/SITE).',
    group: 'backup',
  }),
  NAS_BACKUP_MAP: key({
    schema: z.string().superRefine((raw, ctx) => {
      const r = parseBackupMap(raw);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error.join('; ') });
    }),
    default: '',
    example: 'blog=/volume1/backups/blog-www,shop=/volume2/shop',
    description:
      'Sites whose backups live elsewhere, as site=/absolute/folder pairs; mapped sites are checked even when no host runs them.',
    group: 'backup',
  }),
  NAS_STALE_THRESHOLD_HOURS: key({
    schema: z.coerce
      .number({ error: 'expected a number of hours' })
      .positive('expected a number of hours > 0'),
    default: '26',
    description: 'A site whose newest backup is older than this many hours is stale.',
    group: 'backup',
  }),
  NAS_CHECK_CRON: key({
    schema: z
      .string()
      .refine((v) => cron.validate(v), { message: 'expected a cron expression such as 7 * * * *' }),
    default: '7 * * * *',
    description: 'When the backups are checked (node-cron syntax; hourly at minute 7 by default).',
    group: 'backup',
  }),
  NAS_CONNECT_TIMEOUT_SECONDS: key({
    schema: positiveInt,
    default: '15',
    description: 'How long connecting and logging in to the NAS may take before it counts as unreachable.',
    group: 'backup',
  }),
  MONITOR_ENABLED: key({
    schema: bool,
    default: 'true',
    description:
      'Watch every Docker host and post alerts (console, DISCORD_ALERT_CHANNEL_ID, SLACK_ALERT_CHANNEL).',
    group: 'monitor',
  }),
  UPDATE_CHECK_CRON: key({
    schema: z
      .string()
      .refine((v) => v === 'off' || cron.validate(v), { message: 'expected a cron expression or off' }),
    default: '0 */6 * * *',
    description:
      'When every service is checked for a newer image under its tag (a manifest request to its registry, nothing is downloaded); a new digest is announced once with Pull / Skip this version / Logs. `off` turns the schedule off (/updates still works).',
    group: 'monitor',
  }),
  UPDATE_WINDOW_CRON: key({
    schema: z
      .string()
      .refine((v) => v === '' || cron.validate(v), { message: 'expected a cron expression or empty' }),
    default: '',
    description:
      'When services labelled `siteflow.update=auto` are pulled automatically (health wait and rollback as /pull), reported in the alert channels. Empty: never automatically (they are announced like notify).',
    group: 'monitor',
  }),
  REGISTRY_TIMEOUT_SECONDS: key({
    schema: positiveInt,
    default: '10',
    description:
      'Deadline of one update check against one registry; a slow registry only delays its own images.',
    group: 'monitor',
  }),
  DOCKER_CONFIG: key({
    schema: z.string(),
    default: '',
    description:
      'Folder of the Docker config file (config.json) whose `auths` are used for registry update checks; default ~/.docker.',
    group: 'monitor',
  }),
  DRIFT_CHECK_CRON: key({
    schema: z
      .string()
      .refine((v) => v === 'off' || cron.validate(v), { message: 'expected a cron expression or off' }),
    default: '*/5 * * * *',
    description:
      "When every site's running config is compared with its compose file and .env (`compose config --hash`); a new drift is announced once with an Up button. `off`: only after SiteFlow's own operations on a site.",
    group: 'monitor',
  }),
  MONITOR_RECONCILE_CRON: key({
    schema: z
      .string()
      .refine((v) => cron.validate(v), { message: 'expected a cron expression (5 or 6 fields)' }),
    default: '*/30 * * * * *',
    description:
      'When the monitor re-lists every host to catch what the event stream missed (node-cron, seconds field optional).',
    group: 'monitor',
  }),
  STATS_INTERVAL_SECONDS: key({
    schema: seconds.refine((v) => v === 0 || v >= 1, { message: 'expected 0 (off) or at least 1 second' }),
    default: '15',
    description:
      'How often the CPU and memory of running containers are sampled (the status page, `/status <site>` while a sample is younger than two periods, and the `siteflow.alerts.cpu`/`.memory` resource rules read them); 0 turns sampling off.',
    group: 'monitor',
  }),
  ALERT_ROUTES_FILE: key({
    schema: z.string().transform((path, ctx): AlertRoutes | null => {
      const r = readAlertRoutes(path);
      if (r.ok) return r.value;
      for (const message of r.error) ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }),
    default: '',
    example: './alert-routes.yaml',
    description:
      'YAML routes sending alerts to channels by site, host, severity and kind, with per-route thresholds (see "Alert routing"); read and checked at start, a broken file stops it with the line. Without it every alert goes to every channel.',
    group: 'monitor',
  }),
  ALERT_DOWN_AFTER_SECONDS: key({
    schema: seconds,
    default: '0',
    description: 'A site must be down or degraded this long before it alerts (0: at once; decimals allowed).',
    group: 'monitor',
  }),
  ALERT_RECOVER_AFTER_SECONDS: key({
    schema: seconds,
    default: '5',
    description: 'A site must be healthy again this long before its alert resolves (hysteresis).',
    group: 'monitor',
  }),
  ALERT_FLAP_CHANGES: key({
    schema: positiveInt,
    default: '4',
    description:
      'A container that exits this many times within ALERT_FLAP_WINDOW_SECONDS is flapping: one alert, not one per restart.',
    group: 'monitor',
  }),
  ALERT_FLAP_WINDOW_SECONDS: key({
    schema: positiveInt,
    default: '120',
    description: 'Window of ALERT_FLAP_CHANGES; a container calm this long stops flapping.',
    group: 'monitor',
  }),
  ALERT_REMINDER_MINUTES: key({
    schema: seconds,
    default: '60',
    description:
      'Remind in the alert thread at this interval while it is still open and not acknowledged (0: never).',
    group: 'monitor',
  }),
  ALERT_STORM_THRESHOLD: key({
    schema: positiveInt,
    default: '4',
    description:
      'This many sites of one host going bad within ALERT_STORM_WINDOW_SECONDS post one incident, with the sites listed in its thread.',
    group: 'monitor',
  }),
  ALERT_STORM_WINDOW_SECONDS: key({
    schema: positiveInt,
    default: '10',
    description: 'Window of ALERT_STORM_THRESHOLD.',
    group: 'monitor',
  }),
  ALERT_HOST_DOWN_AFTER_SECONDS: key({
    schema: seconds,
    default: '5',
    description:
      'A Docker engine must stay unreachable this long before one "host unreachable" incident is posted.',
    group: 'monitor',
  }),
  ALERT_ACTION_GRACE_SECONDS: key({
    schema: seconds,
    default: '30',
    description:
      "After SiteFlow's own restart, pull, provision or deprovision of a site ends, its containers get this long to be healthy before they alert.",
    group: 'monitor',
  }),
  NOTIFY_WEBHOOK_URLS: key({
    schema: z.string().superRefine((raw, ctx) => {
      const r = parseWebhookUrls(raw);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error.join('; ') });
    }),
    default: '',
    example: '<ops=https://hooks.example.com/x,client-shop=https://client.example/hook>',
    description:
      'Webhooks that get every alert as a signed JSON POST (comma-separated, optionally name=url; channel webhook:NAME, unnamed ones webhook:1, webhook:2...).',
    secret: true,
    secretParts: webhookUrlsOf,
    group: 'notify',
  }),
  NOTIFY_WEBHOOK_SECRET: key({
    schema: z.string(),
    default: '',
    example: '<random string>',
    description:
      'Key of the X-SiteFlow-Signature header of webhook posts: sha256=<hex HMAC-SHA256 of the raw body>. Without it, posts are unsigned.',
    secret: true,
    group: 'notify',
  }),
  NTFY_URL: key({
    schema: z.string().refine((v) => v === '' || parseNtfyUrl(v) !== null, {
      message: 'expected an ntfy topic URL such as https://ntfy.sh/my-alerts',
    }),
    default: '',
    example: '<https://ntfy.sh/hard-to-guess-topic>',
    description: 'ntfy topic that gets every alert opened and resolved as a push (channel ntfy).',
    secret: true,
    group: 'notify',
  }),
  NTFY_TOKEN: key({
    schema: z.string(),
    default: '',
    description: 'ntfy access token (Authorization: Bearer), for a protected topic.',
    secret: true,
    group: 'notify',
  }),
  SMTP_URL: key({
    schema: z.string().regex(/^$|^smtps?:\/\/[^\s]+$/, 'expected smtp://host:port or smtps://user@host:465'),
    default: '',
    example: '<smtps://alerts@mail.example.com:465>',
    description:
      'Mail server for alert emails (channel email): smtp:// (STARTTLS when offered) or smtps://, credentials in the URL or SMTP_PASSWORD.',
    secret: true,
    secretParts: (v) => [smtpUrlPassword(v) ?? ''],
    group: 'notify',
  }),
  SMTP_PASSWORD: key({
    schema: z.string(),
    default: '',
    description: 'Password of the SMTP_URL user, when it is not in the URL.',
    secret: true,
    group: 'notify',
  }),
  ALERT_EMAIL_FROM: key({
    schema: z.string().regex(/^$|^[^\s@,]+@[^\s@,]+$/, 'expected an email address'),
    default: '',
    example: 'siteflow@example.com',
    description: 'Sender of alert emails.',
    group: 'notify',
  }),
  ALERT_EMAIL_TO: key({
    schema: list.refine((xs) => xs.every((x) => /^[^\s@,]+@[^\s@,]+$/.test(x)), {
      message: 'expected comma-separated email addresses',
    }),
    default: '',
    example: 'ops@example.com,oncall@example.com',
    description:
      'Recipients of alert emails: one mail per alert opened and one per alert resolved, plain text.',
    group: 'notify',
  }),
  PROBE_INTERVAL_SECONDS: key({
    schema: z.coerce.number({ error: 'expected a number of seconds' }).min(5, 'expected at least 5 seconds'),
    default: '60',
    description:
      "How often each site's URLs are checked: its provisioned domain and any `siteflow.url` label (minimum 5).",
    group: 'monitor',
  }),
  PROBE_TIMEOUT_SECONDS: key({
    schema: z.coerce.number({ error: 'expected a number of seconds' }).positive('expected a number > 0'),
    default: '10',
    description: 'A URL check that has no complete answer within this many seconds fails.',
    group: 'monitor',
  }),
  PROBE_CA_FILE: key({
    schema: z.string(),
    default: '',
    description:
      "A PEM file with an extra CA trusted by URL checks, e.g. Caddy's internal root (`pki/authorities/local/root.crt`).",
    group: 'monitor',
  }),
  TLS_WARN_DAYS: key({
    schema: positiveInt,
    default: '14',
    description:
      'A checked https certificate alerts once when it has this many days left, and again at 3 days.',
    group: 'monitor',
  }),
  HISTORY_RETENTION_DAYS: key({
    schema: positiveInt,
    default: '180',
    description:
      'History (site states, URL checks, CPU and memory) is kept raw for 48 h, in 5-minute buckets for 30 days and hourly for this many days.',
    group: 'monitor',
  }),
  HOST_DISK_ALERT_PERCENT: key({
    schema: z.coerce
      .number({ error: 'expected a percentage' })
      .gt(0, 'expected a percentage 1-100')
      .max(100, 'expected a percentage 1-100'),
    default: '90',
    description:
      "A host disk (the Docker data root, SITES_ROOT, or an ssh:// host's SITES_ROOTS folder) this full alerts once, and recovers below it; two of them on one filesystem are one disk.",
    group: 'monitor',
  }),
  PRUNE_ONLY_LABEL: key({
    schema: z.union([
      z.literal(''),
      z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}=[A-Za-z0-9._:@/+-]{1,200}$/, 'expected key=value'),
    ]),
    default: '',
    description:
      '/prune removes only dangling images carrying this key=value label (and then no build cache, which has no labels). Empty: every dangling image and the unused build cache.',
    group: 'monitor',
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
  WEB_TOKEN: key({
    schema: z.string().refine((v) => v === '' || v.length >= 16, {
      message: 'expected at least 16 characters (e.g. `openssl rand -hex 24`)',
    }),
    default: '',
    description:
      'Access token of the status page: when set, every page, the API and /metrics need it (Authorization: Bearer, or the login form); /healthz stays open.',
    secret: true,
    group: 'web',
  }),
  WEB_ALLOW_ANONYMOUS: key({
    schema: bool,
    default: 'false',
    description:
      'Serve the status page without WEB_TOKEN on a non-loopback WEB_HOST (only when something in front, such as an authenticating proxy, guards it). Without it SiteFlow refuses to start that way.',
    group: 'web',
  }),
  WEB_SESSION_HOURS: key({
    schema: z.coerce
      .number({ error: 'expected a number of hours' })
      .positive('expected a number of hours > 0'),
    default: '12',
    description: 'How long a login to the status page lasts; /logout ends it sooner.',
    group: 'web',
  }),
  WEB_PUBLIC_URL: key({
    schema: z.string().refine((v) => v === '' || isHttpUrl(v), { message: 'expected an http(s) URL' }),
    default: '',
    example: 'https://status.example.com',
    description: 'Address people reach the status page at; webhook, ntfy and email alerts then link to it.',
    group: 'web',
  }),
  WEB_TRUST_PROXY: key({
    schema: z
      .string()
      .regex(/^[\w.:/, -]*$/, 'expected false, true, a hop count, or addresses/subnets like loopback')
      .transform((v): boolean | number | string => {
        const t = v.trim().toLowerCase();
        if (t === '' || t === 'false' || t === 'no') return false;
        if (t === 'true' || t === 'yes') return true;
        return /^\d+$/.test(t) ? Number(t) : v.trim();
      }),
    default: 'false',
    description:
      "Which reverse proxies in front of the status page to trust for X-Forwarded-For/-Proto (express 'trust proxy'): false, a hop count such as 1, or addresses/subnets such as loopback. Needed for the per-client login limit and Secure cookies behind a proxy.",
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
  readSecretFiles(merged, problems);
  for (const [name, k] of Object.entries(KEYS) as [string, Key][]) {
    const given = merged[name]?.trim();
    const raw = given || undefined;
    const value = given === '' && k.emptyIsValue ? '' : (raw ?? k.default);
    if (value === undefined) {
      out[name] = undefined;
      continue;
    }
    const r = k.schema.safeParse(value);
    if (r.success) {
      out[name] = r.data;
      if (k.secret && raw) secrets.push(raw, ...(k.secretParts?.(raw) ?? []).filter(Boolean));
    } else {
      problems.push({ key: name, problem: r.error.issues.map((i) => i.message).join('; ') });
    }
  }
  // Rules across keys (only once each key is valid on its own).
  if (!problems.length) {
    const host = String(out.WEB_HOST);
    if (!isLoopbackHost(host) && !out.WEB_TOKEN && out.WEB_ALLOW_ANONYMOUS !== true)
      problems.push({
        key: 'WEB_HOST',
        problem: `${host} is not a loopback address and WEB_TOKEN is empty, so anyone who reaches it would see every site. Set WEB_TOKEN (16+ characters), or WEB_ALLOW_ANONYMOUS=true if something in front already authenticates.`,
      });
  }
  problems.push(...crossCheck(out));
  if (problems.length) throw new ConfigError(problems);
  return { ...(out as Omit<Config, 'secrets'>), secrets };
}

/**
 * `NAME_FILE` variants of every secret key (Docker/compose secrets, e.g. DISCORD_TOKEN_FILE=
 * /run/secrets/discord_token): the file is read once, here, and its content (one trailing newline
 * dropped) becomes NAME. Setting both, an unreadable file and an empty file are problems.
 */
function readSecretFiles(merged: Record<string, string | undefined>, problems: ConfigProblem[]): void {
  for (const [name, k] of Object.entries(KEYS) as [string, Key][]) {
    if (!k.secret) continue;
    const fileKey = `${name}_FILE`;
    const file = merged[fileKey]?.trim();
    if (!file) continue;
    if (merged[name]?.trim()) {
      problems.push({ key: fileKey, problem: `set either ${name} or ${fileKey}, not both` });
      continue;
    }
    let content: string;
    try {
      content = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      problems.push({
        key: fileKey,
        problem: `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      });
      continue;
    }
    if (!content.trim()) problems.push({ key: fileKey, problem: `${file} is empty` });
    else merged[name] = content;
  }
}

/** Problems between keys: routes naming a webhook that NOTIFY_WEBHOOK_URLS does not define. */
function crossCheck(out: Record<string, unknown>): ConfigProblem[] {
  const routes = out.ALERT_ROUTES_FILE as AlertRoutes | null | undefined;
  if (!routes || typeof out.NOTIFY_WEBHOOK_URLS !== 'string') return [];
  const hooks = parseWebhookUrls(out.NOTIFY_WEBHOOK_URLS);
  const names = new Set(hooks.ok ? hooks.value.map((w) => `webhook:${w.name}`) : []);
  const problems: ConfigProblem[] = [];
  for (const r of routes.routes)
    for (const c of r.to)
      if (c.startsWith('webhook:') && !names.has(c))
        problems.push({
          key: 'ALERT_ROUTES_FILE',
          problem: `line ${r.line}: ${c} is not in NOTIFY_WEBHOOK_URLS`,
        });
  for (const c of routes.default ?? [])
    if (c.startsWith('webhook:') && !names.has(c))
      problems.push({ key: 'ALERT_ROUTES_FILE', problem: `default: ${c} is not in NOTIFY_WEBHOOK_URLS` });
  return problems;
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
