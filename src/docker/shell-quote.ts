/**
 * Quoting for a POSIX shell: the one way SiteFlow builds a command line for a remote host (an SSH
 * exec request is a string the login shell parses). Every word is single-quoted, so nothing in it
 * is expanded, split or globbed.
 */
import { SiteFlowError } from '../core/errors.js';

/**
 * One word for a POSIX shell: `'...'` with each `'` written as `'\''`. A NUL byte cannot be passed
 * in a command line at all: INPUT_INVALID.
 */
export function shQuote(word: string): string {
  if (word.includes('\0'))
    throw new SiteFlowError('INPUT_INVALID', 'a NUL byte cannot be passed to a remote command');
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A command line of quoted words. */
export function shCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new SiteFlowError('INPUT_INVALID', 'no command to run');
  return argv.map(shQuote).join(' ');
}
