/**
 * Validation of every value that reaches a path, a compose file or a Caddyfile during
 * provisioning. The accepted alphabets contain no quote, brace, space, newline, `#`, `$`
 * or `:` (domains), so no accepted value can add YAML keys or Caddy directives.
 */
import { err, ok, type Result } from '../core/result.js';

/** A new site's name: one DNS label (lowercase letters, digits, inner hyphens), 1-63 characters. */
export const SITE_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Names that would collide with SiteFlow's own things or mean something else in a URL. */
export const RESERVED_NAMES: readonly string[] = [
  'siteflow',
  'caddy',
  'admin',
  'www',
  'localhost',
  'archive',
  'api',
  'default',
  'docker',
  'root',
  'test',
];

/** Checks a new site's name; the error says what is wrong. */
export function checkSiteName(name: string): Result<string> {
  if (name.length === 0) return err('a site name is required');
  if (name.length > 63) return err(`a site name has at most 63 characters (got ${name.length})`);
  if (!SITE_NAME_RE.test(name))
    return err(
      'a site name is one DNS label: lowercase letters, digits and inner hyphens (no dots, slashes, capitals or spaces)',
    );
  if (RESERVED_NAMES.includes(name)) return err(`"${name}" is reserved; pick another name`);
  return ok(name);
}

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Checks a domain: a lowercase hostname of dot-separated DNS labels (at most 253 characters).
 * Anything else (spaces, newlines, braces, schemes, ports, wildcards) is refused.
 */
export function checkDomain(domain: string): Result<string> {
  if (domain.length === 0 || domain.length > 253) return err('a domain has 1-253 characters');
  if (/[\s{}"'`#$;\\]/.test(domain) || /[\u0000-\u001f\u007f]/.test(domain))
    return err('a domain may not contain spaces, newlines, braces, quotes or other special characters');
  const labels = domain.split('.');
  if (labels.some((l) => !LABEL_RE.test(l)))
    return err('a domain is a lowercase hostname such as blog.example.com (letters, digits, hyphens, dots)');
  return ok(domain);
}

/** An image reference as Docker accepts it: registry/path:tag or @digest; no spaces or quotes. */
export const IMAGE_REF_RE =
  /^[a-z0-9][a-z0-9._-]*(?::[0-9]{1,5})?(?:\/[a-z0-9][a-z0-9._-]*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** True when `ref` is pinned: a tag other than `latest`, or a digest. */
export function isPinned(ref: string): boolean {
  if (/@sha256:[a-f0-9]{64}$/.test(ref)) return true;
  const last = ref.split('/').pop() ?? '';
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : '';
  return tag !== '' && tag !== 'latest';
}

/** Values of non-secret parameters: plain words that are safe unquoted in YAML, .env and Caddyfiles. */
export const PARAM_VALUE_RE = /^[A-Za-z0-9_.@/-]{0,200}$/;
