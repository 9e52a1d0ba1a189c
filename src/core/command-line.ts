/**
 * Text command lines, shared by the console surface and Slack's umbrella command:
 * `/restart blog web`, `/audit site:blog limit:5`, `/logs blog lines=50 "follow:yes"`.
 * Positional words fill the command's options in declaration order; `name:value` or
 * `name=value` set an option by name. Double or single quotes group words.
 */
import type { OptionSpec } from './command.js';
import { err, ok, type Result } from './result.js';

/** Splits a line into words, honouring quotes and backslash escapes. */
export function tokenize(line: string): Result<string[]> {
  const words: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) return err('unclosed quote');
  if (inWord) words.push(cur);
  return ok(words);
}

/**
 * Parses `words` (without the command name) against a command's options. Unknown names
 * and surplus positional words are errors, reported together.
 */
export function bindArgs(
  words: string[],
  options: Record<string, OptionSpec>,
): Result<Record<string, string>, string[]> {
  const names = Object.keys(options);
  const args: Record<string, string> = {};
  const problems: string[] = [];
  const positional: string[] = [];
  for (const w of words) {
    const m = /^([a-z][a-z0-9-]*)[:=](.*)$/s.exec(w);
    if (m && names.includes(m[1]!)) {
      if (m[1]! in args) problems.push(`${m[1]} is given twice`);
      args[m[1]!] = m[2]!;
    } else if (m && !w.includes('/')) {
      problems.push(`unknown option "${m[1]}"${names.length ? ` (options: ${names.join(', ')})` : ''}`);
    } else positional.push(w);
  }
  const free = names.filter((n) => !(n in args));
  positional.forEach((w, i) => {
    const name = free[i];
    if (name === undefined)
      problems.push(`unexpected argument "${w.length > 40 ? `${w.slice(0, 40)}…` : w}"`);
    else args[name] = w;
  });
  return problems.length ? err(problems) : ok(args);
}

/** Splits `/name rest...` (leading slash optional) into the command name and its words. */
export function splitLine(line: string): Result<{ command: string; words: string[] }> {
  const t = tokenize(line.trim());
  if (!t.ok) return t;
  const [head, ...words] = t.value;
  if (!head) return err('empty command');
  return ok({ command: head.replace(/^\//, '').toLowerCase(), words });
}

/** A command as read from text: its name and raw arguments, or the problems found reading it. */
export interface ReadCommand {
  command: string;
  args: Record<string, string>;
  /** Set when the text could not be read; the dispatcher reports and audits them. */
  problems?: string[];
}

/** Looks up a command's options by name (the registry). */
export type OptionsOf = (command: string) => { options: Record<string, OptionSpec> } | undefined;

/** Reads the arguments of `command` from `text` (everything after the command name). */
export function readCommandArgs(command: string, text: string, lookup: OptionsOf): ReadCommand {
  const t = tokenize(text);
  if (!t.ok) return { command, args: {}, problems: [t.error] };
  const def = lookup(command);
  if (!def) return { command, args: {} };
  const bound = bindArgs(t.value, def.options);
  return bound.ok ? { command, args: bound.value } : { command, args: {}, problems: bound.error };
}

/** Reads a whole line such as `/restart blog web` or `audit site:blog`. */
export function readCommandLine(line: string, lookup: OptionsOf): ReadCommand {
  const split = splitLine(line);
  if (!split.ok) return { command: '', args: {}, problems: [split.error] };
  const def = lookup(split.value.command);
  if (!def) return { command: split.value.command, args: {} };
  const bound = bindArgs(split.value.words, def.options);
  return bound.ok
    ? { command: split.value.command, args: bound.value }
    : { command: split.value.command, args: {}, problems: bound.error };
}
