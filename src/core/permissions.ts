/**
 * Maps a chat user to a permission level from configured principals such as
 * `discord:role:123`, `discord:user:456`, `slack:user:U123`, `slack:group:S456`,
 * `console:user:alice`; `platform:*` matches every user of a platform.
 * Without a match a user is a viewer: the secure default.
 */
import type { ChatUser, Level } from './command.js';
import type { Platform } from './ports.js';

/** Principals granted each elevated level. */
export interface PermissionGrants {
  admins: readonly string[];
  operators: readonly string[];
}

/** The principal strings that identify `user` on `platform`. */
export function principalsOf(platform: Platform, user: ChatUser): string[] {
  const roleKind = platform === 'slack' ? 'group' : 'role';
  return [
    `${platform}:*`,
    `${platform}:user:${user.id}`,
    ...user.roles.map((r) => `${platform}:${roleKind}:${r}`),
  ];
}

/**
 * What an admin must add to the configuration so `user` gets `needed`: the user's exact
 * principal and the key it goes in, e.g. "add discord:user:123 to OPERATORS".
 */
export function grantAdvice(platform: Platform, user: ChatUser, needed: Level): string {
  const key = needed === 'admin' ? 'ADMINS' : 'OPERATORS';
  const roleKind = platform === 'slack' ? 'group' : 'role';
  const roles =
    user.roles.length > 0 && platform !== 'console'
      ? ` (or one of your ${roleKind}s, e.g. ${platform}:${roleKind}:${user.roles[0]})`
      : '';
  return `To allow it, an admin adds ${platform}:user:${user.id}${roles} to ${key}.`;
}

/** Resolves permission levels. */
export class PermissionPolicy {
  private readonly admins: Set<string>;
  private readonly operators: Set<string>;
  constructor(grants: PermissionGrants) {
    this.admins = new Set(grants.admins);
    this.operators = new Set(grants.operators);
  }

  /** The highest level any of the user's principals is granted. */
  levelOf(platform: Platform, user: ChatUser): Level {
    const ps = principalsOf(platform, user);
    if (ps.some((p) => this.admins.has(p))) return 'admin';
    if (ps.some((p) => this.operators.has(p))) return 'operator';
    return 'viewer';
  }

  /** True when nobody on `platform` is granted more than viewer. */
  hasNoGrants(platform: Platform): boolean {
    return ![...this.admins, ...this.operators].some((p) => p.startsWith(`${platform}:`));
  }
}
