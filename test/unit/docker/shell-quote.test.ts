import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shCommand, shQuote } from '../../../src/docker/shell-quote.js';

/** What a real POSIX shell receives as argv for the quoted command line. */
function argvThroughSh(words: string[]): string[] {
  const out = execFileSync('/bin/sh', ['-c', `${shCommand(['printf', '%s\\0', ...words])}`], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' },
  });
  return out.split('\0').slice(0, -1);
}

describe('shQuote / shCommand', () => {
  it('single-quotes every word and escapes single quotes', () => {
    expect(shQuote('abc')).toBe("'abc'");
    expect(shQuote('')).toBe("''");
    expect(shQuote("it's")).toBe("'it'\\''s'");
    expect(shCommand(['docker', 'compose', 'up', '-d'])).toBe("'docker' 'compose' 'up' '-d'");
  });

  it('hands hostile strings to the program unchanged, running nothing of them (real /bin/sh)', () => {
    const hostile = [
      "'; touch /tmp/pwned-siteflow; '",
      '$(touch /tmp/pwned-siteflow)',
      '`touch /tmp/pwned-siteflow`',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, on purpose
      '${HOME} $PATH $0 $$ $?',
      'a b\tc\nd',
      '*',
      '~root',
      '!! !$',
      '"double" \\back\\slash\\',
      "'''",
      '-n',
      '; rm -rf / #',
      '&& || | > < >> 2>&1 &',
      'ünïcödé ✓',
      '',
    ];
    expect(argvThroughSh(hostile)).toEqual(hostile);
  });

  it('refuses a NUL byte and an empty command', () => {
    expect(() => shQuote('a\0b')).toThrow(/NUL byte/);
    expect(() => shCommand([])).toThrow(/no command/);
  });
});
