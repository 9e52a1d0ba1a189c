/**
 * Confirmations for destructive actions. A command asks for one instead of acting; the
 * surface shows buttons (Discord components, Slack Block Kit) or, in the console, a
 * `/confirm ID` hint. Only the invoking user or an admin may confirm, within the time
 * limit; anything else is a clear refusal that changes nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Reply } from './command.js';
import type { Actor, Clock } from './ports.js';
import { err, ok, type Result } from './result.js';

/** Default lifetime of a confirmation request. */
export const CONFIRM_TTL_MS = 60_000;

/** An open confirmation request. */
export interface PendingConfirmation {
  id: string;
  /** The command that asked, e.g. `deprovision`. */
  command: string;
  /** Site the action targets, for the audit log. */
  site: string | null;
  actor: Actor;
  /** One line saying what will happen, e.g. "Deprovision blog and delete its volumes". */
  summary: string;
  createdAt: number;
  expiresAt: number;
  /** Does the confirmed work; returns the reply to show (often one that streams a run). */
  proceed: () => Promise<Reply> | Reply;
}

/** Why a confirmation click or command did nothing. */
export type ConfirmRefusal =
  | { code: 'unknown'; message: string }
  | { code: 'expired'; message: string }
  | { code: 'not_yours'; message: string; owner: Actor };

/** The shape of a confirmation id. */
export const CONFIRMATION_ID_RE = /^cf_[0-9a-f]{16}$/;

/** The open confirmation requests, in memory (they live for a minute; a restart drops them safely). */
export class Confirmations {
  private readonly pending = new Map<string, PendingConfirmation>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = CONFIRM_TTL_MS,
  ) {}

  /** Opens a request; the returned id goes into the buttons' custom ids. */
  request(p: Omit<PendingConfirmation, 'id' | 'createdAt' | 'expiresAt'>): PendingConfirmation {
    this.sweep();
    const now = this.clock.now();
    const c: PendingConfirmation = {
      ...p,
      id: `cf_${randomBytes(8).toString('hex')}`,
      createdAt: now,
      expiresAt: now + this.ttlMs,
    };
    this.pending.set(c.id, c);
    return c;
  }

  /**
   * Takes a request for `by`: it is removed, so a second click cannot run it twice.
   * A foreign click leaves it open for its owner.
   */
  take(id: string, by: Actor, isAdmin: boolean): Result<PendingConfirmation, ConfirmRefusal> {
    const c = this.pending.get(id);
    if (!c)
      return err({
        code: 'unknown',
        message: 'This confirmation is no longer open (already used, cancelled or expired).',
      });
    if (this.clock.now() > c.expiresAt) {
      this.pending.delete(id);
      return err({ code: 'expired', message: `This confirmation expired; run /${c.command} again.` });
    }
    const mine = c.actor.platform === by.platform && c.actor.id === by.id;
    if (!mine && !isAdmin) {
      return err({
        code: 'not_yours',
        message: `Only ${c.actor.name} (who asked) or an admin can confirm this.`,
        owner: c.actor,
      });
    }
    this.pending.delete(id);
    return ok(c);
  }

  /** Number of open requests (for metrics and tests). */
  get size(): number {
    this.sweep();
    return this.pending.size;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [id, c] of this.pending) if (now > c.expiresAt) this.pending.delete(id);
  }
}
