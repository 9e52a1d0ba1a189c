import { levelAllows, type OptionSpec, reply } from '../src/core/command.js';
import { defineCommand } from '../src/services.js';

/** Usage line of a command, e.g. `/restart <site> [service]`. */
export function usage(name: string, options: Record<string, OptionSpec>): string {
  const parts = Object.entries(options).map(([n, o]) => (o.required ? `<${n}>` : `[${n}]`));
  return [`/${name}`, ...parts].join(' ');
}

export default defineCommand({
  name: 'help',
  description: 'List the commands you may run',
  level: 'viewer',
  options: {},
  run: ({ level, services }) => {
    const mine = services.registry.allowed(level);
    const more = services.registry.all().filter((c) => !levelAllows(level, c.level));
    const r = reply.ok(
      `Commands for you (${level})`,
      {
        kind: 'table',
        columns: ['command', 'what it does', 'level'],
        rows: mine.map((c) => [usage(c.name, c.options), c.description, c.level]),
      },
      { kind: 'text', text: 'Options go in order or by name: /audit site:blog limit:5' },
    );
    if (more.length) {
      r.blocks.push({
        kind: 'text',
        text: `${more.length} more need a higher level (${more.map((c) => `/${c.name}`).join(', ')}). ${services.grantHint}`,
      });
    }
    r.ephemeral = true;
    return r;
  },
});
