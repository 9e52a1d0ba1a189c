/**
 * Generates .env.example and the README configuration table from the declared keys,
 * so neither can drift from the schema. `npm run docs:env` rewrites .env.example.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { usage } from '../../commands/help.js';
import { commands } from '../../commands/index.js';
import { describeKeys } from '../config.js';
import { type Command, LEVELS } from '../core/command.js';

const GROUP_TITLES: Record<string, string> = {
  core: 'Core',
  docker: 'Docker',
  monitor: 'Monitor and alerts',
  notify: 'Alert channels: webhook, ntfy, email',
  permissions: 'Permissions',
  discord: 'Discord',
  slack: 'Slack',
  provision: 'Sites, templates and Caddy',
  backup: 'NAS backups',
  web: 'Status page',
};

/** The text of .env.example. */
export function renderEnvExample(): string {
  const out = [
    '# SiteFlow configuration. Copy to .env and adjust; the real environment overrides this file.',
    '# Every key is optional unless noted; commented-out keys show their default.',
    '',
  ];
  for (const [group, keys] of groupedKeys()) {
    out.push(`# --- ${GROUP_TITLES[group] ?? group} ---`);
    for (const k of keys) {
      out.push(
        `# ${k.description}${k.secret ? ` (secret: never logged; or ${k.name}_FILE=path of a file holding it)` : ''}`,
      );
      // A secret's placeholder is never a real-looking value: it stays commented out.
      out.push(`# ${k.name}=${k.default || k.example || ''}`, '');
    }
  }
  return out.join('\n');
}

/** The README commands table (markdown), from the command declarations. */
export function renderCommandsTable(): string {
  const rows = commands
    .map((c) => c as unknown as Command)
    .sort((a, b) => LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level) || a.name.localeCompare(b.name))
    .map((c) => `| \`${usage(c.name, c.options)}\` | ${c.level} | ${c.description} |`);
  return ['| command | level | what it does |', '|---|---|---|', ...rows].join('\n');
}

/** The README configuration table (markdown). */
export function renderConfigTable(): string {
  const out: string[] = [];
  for (const [group, keys] of groupedKeys()) {
    out.push(`### ${GROUP_TITLES[group] ?? group}`, '', '| key | default | what it does |', '|---|---|---|');
    for (const k of keys) {
      const def = k.default ? `\`${k.default}\`` : k.example ? `e.g. \`${k.example}\`` : '(unset)';
      out.push(
        `| \`${k.name}\` | ${def} | ${k.description}${k.secret ? ` **Secret** (or \`${k.name}_FILE\`: a file holding it).` : ''} |`,
      );
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}

/** Keys by group, groups in the order of GROUP_TITLES, keys in declaration order. */
function groupedKeys(): Array<[string, ReturnType<typeof describeKeys>]> {
  const order = Object.keys(GROUP_TITLES);
  const groups = new Map<string, ReturnType<typeof describeKeys>>();
  for (const k of describeKeys()) groups.set(k.group, [...(groups.get(k.group) ?? []), k]);
  return [...groups].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync('.env.example', renderEnvExample());
  const readme = readFileSync('README.md', 'utf8');
  const updated = readme
    .replace(
      /<!-- config:start -->[\s\S]*<!-- config:end -->/,
      `<!-- config:start -->\n${renderConfigTable()}\n<!-- config:end -->`,
    )
    .replace(
      /<!-- commands:start -->[\s\S]*<!-- commands:end -->/,
      `<!-- commands:start -->\n${renderCommandsTable()}\n<!-- commands:end -->`,
    );
  writeFileSync('README.md', updated);
  process.stdout.write('wrote .env.example and the README configuration and commands tables\n');
}
