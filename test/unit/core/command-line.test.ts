import { describe, expect, it } from 'vitest';
import { opt } from '../../../src/core/command.js';
import { bindArgs, splitLine, tokenize } from '../../../src/core/command-line.js';

const options = {
  site: opt.site({ description: 's', required: true }),
  service: opt.service({ description: 'x' }),
  limit: opt.integer({ description: 'l', min: 1, max: 50 }),
};

describe('command line', () => {
  it('tokenizes quotes and escapes', () => {
    expect(tokenize(`a "b c" 'd e' f\\g "h\\"i"`)).toEqual({
      ok: true,
      value: ['a', 'b c', 'd e', 'f\\g', 'h"i'],
    });
    expect(tokenize('"open').ok).toBe(false);
  });

  it('splits the command name and lowercases it', () => {
    expect(splitLine('/Audit site:blog')).toEqual({
      ok: true,
      value: { command: 'audit', words: ['site:blog'] },
    });
  });

  it('binds positional words in declaration order and named ones by name', () => {
    expect(bindArgs(['blog', 'limit:5', 'web'], options)).toEqual({
      ok: true,
      value: { site: 'blog', limit: '5', service: 'web' },
    });
    expect(bindArgs(['service=web', 'edge/blog'], options)).toEqual({
      ok: true,
      value: { service: 'web', site: 'edge/blog' },
    });
  });

  it('reports unknown names and surplus words together', () => {
    const r = bindArgs(['blog', 'web', '3', 'extra', 'colour:red'], options);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toHaveLength(2);
      expect(r.error.join('\n')).toMatch(/unknown option "colour"/);
      expect(r.error.join('\n')).toMatch(/unexpected argument "extra"/);
    }
  });
});
