/**
 * The environment of every child process SiteFlow starts (compose, caddy, tar, the Caddy reload
 * command): a few harmless variables of SiteFlow's own environment (PATH, HOME, locale, the
 * ssh-agent socket) plus what the caller adds (a host's DOCKER_HOST/TLS variables). Never the
 * rest: SiteFlow's environment holds its chat tokens, signing secret and passwords.
 */

/** Variables passed through from SiteFlow's own environment; nothing else reaches a child. */
export const PASS_ENV = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'USER',
  'SSH_AUTH_SOCK',
  'XDG_RUNTIME_DIR',
] as const;

/** The minimal environment of a child process, with `extra` on top. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASS_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}
