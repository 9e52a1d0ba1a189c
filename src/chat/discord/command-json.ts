/**
 * Discord slash command definitions generated from the command declarations: the same
 * names, descriptions and typed options every surface serves, within Discord's limits.
 */
import type { Command, OptionSpec } from '../../core/command.js';

/** Discord application command option types used by SiteFlow. */
export const OptionType = { String: 3, Integer: 4, Boolean: 5 } as const;

/** One option of a chat input command, as Discord's API takes it. */
export interface DiscordOptionJson {
  type: number;
  name: string;
  description: string;
  required: boolean;
  choices?: Array<{ name: string; value: string }>;
  autocomplete?: boolean;
  min_value?: number;
  max_value?: number;
  max_length?: number;
}

/** A chat input (slash) command, as Discord's API takes it. */
export interface DiscordCommandJson {
  type: 1;
  name: string;
  description: string;
  options: DiscordOptionJson[];
  dm_permission: boolean;
}

/** Discord caps descriptions at 100 characters and choice names at 100. */
const clip = (s: string, n = 100) => (s.length > n ? `${s.slice(0, n - 1)}…` : s) || '-';

function optionJson(name: string, spec: OptionSpec): DiscordOptionJson {
  const type =
    spec.type === 'integer'
      ? OptionType.Integer
      : spec.type === 'boolean'
        ? OptionType.Boolean
        : OptionType.String;
  const o: DiscordOptionJson = { type, name, description: clip(spec.description), required: spec.required };
  if (spec.choices?.length && spec.choices.length <= 25 && type === OptionType.String) {
    o.choices = spec.choices.map((c) => ({ name: clip(c), value: c }));
  } else if (spec.completion && type === OptionType.String) {
    // Autocomplete and choices are mutually exclusive on Discord.
    o.autocomplete = true;
  }
  if (type === OptionType.Integer) {
    if (spec.min !== undefined) o.min_value = spec.min;
    if (spec.max !== undefined) o.max_value = spec.max;
  }
  if (type === OptionType.String && spec.max !== undefined)
    o.max_length = Math.min(Math.max(spec.max, 1), 6000);
  return o;
}

/** One command as a Discord chat input command; required options come first, as Discord demands. */
export function commandJson(c: Pick<Command, 'name' | 'description' | 'options'>): DiscordCommandJson {
  const entries = Object.entries(c.options as Record<string, OptionSpec>);
  const ordered = [...entries.filter(([, s]) => s.required), ...entries.filter(([, s]) => !s.required)];
  return {
    type: 1,
    name: c.name,
    description: clip(c.description),
    options: ordered.slice(0, 25).map(([n, s]) => optionJson(n, s)),
    // Roles (and so permissions) exist only in servers.
    dm_permission: false,
  };
}

/** Every command of a registry, ready for `PUT .../commands`. */
export function commandsJson(
  commands: Iterable<Pick<Command, 'name' | 'description' | 'options'>>,
): DiscordCommandJson[] {
  return [...commands].map(commandJson);
}
