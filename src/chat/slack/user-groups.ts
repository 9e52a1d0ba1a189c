/**
 * Slack user-group membership for permissions (`slack:group:S123` principals): one
 * usergroups.list call with include_users, cached for a minute and shared by concurrent
 * lookups. When the call fails (e.g. the usergroups:read scope is missing) users simply
 * have no groups until the next refresh, and the failure is logged once.
 */
import type { webApi } from '@slack/bolt';
import type { Clock, Logger } from '../../core/ports.js';

/** How long a fetched membership list is used. */
export const USER_GROUPS_TTL_MS = 60_000;

/** Resolves the user-group ids a Slack user belongs to. */
export class SlackUserGroups {
  private cache: { at: number; byUser: Map<string, string[]> } | null = null;
  private inflight: Promise<Map<string, string[]>> | null = null;
  private warned = false;

  constructor(
    private readonly client: Pick<webApi.WebClient, 'usergroups'>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly ttlMs = USER_GROUPS_TTL_MS,
  ) {}

  /** The group ids of `userId` (empty when unknown or when groups cannot be read). */
  async groupsOf(userId: string): Promise<string[]> {
    const now = this.clock.now();
    if (this.cache && now - this.cache.at < this.ttlMs) return this.cache.byUser.get(userId) ?? [];
    this.inflight ??= this.fetch().finally(() => {
      this.inflight = null;
    });
    const byUser = await this.inflight;
    return byUser.get(userId) ?? [];
  }

  private async fetch(): Promise<Map<string, string[]>> {
    const byUser = new Map<string, string[]>();
    try {
      const r = await this.client.usergroups.list({ include_users: true, include_disabled: false });
      for (const g of r.usergroups ?? []) {
        if (!g.id || g.date_delete) continue;
        for (const u of g.users ?? []) byUser.set(u, [...(byUser.get(u) ?? []), g.id]);
      }
      this.warned = false;
    } catch (e) {
      if (!this.warned)
        this.logger.warn(
          { err: e instanceof Error ? e.message : String(e) },
          'could not read Slack user groups (is the usergroups:read scope granted?); slack:group principals match nobody until it works',
        );
      this.warned = true;
    }
    this.cache = { at: this.clock.now(), byUser };
    return byUser;
  }
}
