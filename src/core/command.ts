/**
 * Command declarations: every command is declared once (commands/*.ts) with typed,
 * validated options and a permission level, and served to every chat surface.
 * Option parsers are pure: they return a Result and never touch a platform SDK.
 */
import type { Actor, AuditOutcome, Platform } from './ports.js';
import { err, ok, type Result } from './result.js';

/** Permission levels, lowest first. */
export const LEVELS = ['viewer', 'operator', 'admin'] as const;
/** A permission level. */
export type Level = (typeof LEVELS)[number];

/** True when `have` is at least `need`. */
export function levelAllows(have: Level, need: Level): boolean {
  return LEVELS.indexOf(have) >= LEVELS.indexOf(need);
}

/** Hard cap on any single raw argument, before any parser sees it. */
export const MAX_ARG_LENGTH = 512;

/** Which dynamic list a surface may offer as completions for an option. */
export type Completion = 'site' | 'service' | 'host' | 'template' | 'operation' | 'alert' | 'target';

/** An option's declaration and its pure parser. */
export interface OptionSpec<T = unknown> {
  type: 'string' | 'integer' | 'boolean';
  description: string;
  required: boolean;
  choices?: readonly string[];
  completion?: Completion;
  min?: number;
  max?: number;
  parse(raw: string): Result<T>;
}

type Base = { description: string; required?: boolean };
/** An option spec whose `required` flag is known at the type level. */
type Spec<T, B extends Base> = OptionSpec<T> & { required: B['required'] extends true ? true : false };

/** A site, host or project name: a lowercase label of 1-64 characters. */
export const NAME_RE = /^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$/;
/** A compose service name, as chat input and container labels must spell it. */
export const SERVICE_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
/** Site identifier: `site` or `host/site`, each a lowercase DNS-label-like name. */
export const SITE_RE =
  /^(?:([a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?)\/)?([a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?)$/;

function spec<T, B extends Base>(
  type: OptionSpec['type'],
  o: B & Partial<Pick<OptionSpec, 'choices' | 'completion' | 'min' | 'max'>>,
  parse: (raw: string) => Result<T>,
): Spec<T, B> {
  const { description, required, choices, completion, min, max } = o;
  return {
    type,
    description,
    required: required === true,
    ...(choices ? { choices } : {}),
    ...(completion ? { completion } : {}),
    ...(min !== undefined ? { min } : {}),
    ...(max !== undefined ? { max } : {}),
    parse,
  } as Spec<T, B>;
}

/** A parsed site reference; `host` is null when not given. */
export interface SiteRef {
  host: string | null;
  name: string;
}

/** Parses durations such as `90s`, `15m`, `2h`, `7d`, `1w` into milliseconds. */
export function parseDuration(raw: string): Result<number> {
  const m = /^(\d{1,6})\s*(s|m|h|d|w)$/i.exec(raw.trim());
  if (!m) return err('expected a duration such as 30m, 2h or 7d');
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[m[2]!.toLowerCase() as 's'];
  return ok(Number(m[1]) * unit);
}

/** Option builders. */
export const opt = {
  string<B extends Base & { max?: number; pattern?: RegExp; patternHint?: string }>(o: B): Spec<string, B> {
    const max = o.max ?? 200;
    return spec('string', { ...o, max }, (raw) => {
      if (raw.length > max) return err(`must be at most ${max} characters`);
      if (o.pattern && !o.pattern.test(raw)) return err(o.patternHint ?? `must match ${o.pattern}`);
      return ok(raw);
    });
  },
  integer<B extends Base & { min: number; max: number }>(o: B): Spec<number, B> {
    return spec('integer', o, (raw) => {
      if (!/^-?\d{1,9}$/.test(raw)) return err('expected a whole number');
      const n = Number(raw);
      if (n < o.min || n > o.max) return err(`must be between ${o.min} and ${o.max}`);
      return ok(n);
    });
  },
  boolean<B extends Base>(o: B): Spec<boolean, B> {
    return spec('boolean', o, (raw) => {
      const v = raw.toLowerCase();
      if (['true', 'yes', 'y', '1', 'on'].includes(v)) return ok(true);
      if (['false', 'no', 'n', '0', 'off'].includes(v)) return ok(false);
      return err('expected true or false');
    });
  },
  choice<const C extends readonly string[], B extends Base = Base>(
    o: B & { choices: C },
  ): Spec<C[number], B> {
    return spec('string', o, (raw) =>
      o.choices.includes(raw) ? ok(raw as C[number]) : err(`expected one of: ${o.choices.join(', ')}`),
    );
  },
  /** A site as `name` or `host/name`. Existence is checked by the handler, not here. */
  site<B extends Base>(o: B): Spec<SiteRef, B> {
    return spec('string', { ...o, completion: 'site', max: 129 }, (raw) => {
      const m = SITE_RE.exec(raw);
      if (!m) return err('a site is a lowercase name (letters, digits, - and _), optionally as host/name');
      return ok({ host: m[1] ?? null, name: m[2]! });
    });
  },
  /** A compose service name. */
  service<B extends Base>(o: B): Spec<string, B> {
    return spec('string', { ...o, completion: 'service', max: 63 }, (raw) =>
      SERVICE_RE.test(raw) ? ok(raw) : err('not a valid compose service name'),
    );
  },
  /** A user given as an id or a display name (matched case-insensitively). */
  user<B extends Base>(o: B): Spec<string, B> {
    return spec('string', { ...o, max: 100 }, (raw) =>
      /^[\p{L}\p{N}@._: -]{1,100}$/u.test(raw) ? ok(raw) : err('not a valid user id or name'),
    );
  },
  /** A duration such as 30m or 7d. */
  duration<B extends Base & { maxMs?: number }>(o: B): Spec<number, B> {
    return spec('string', o, (raw) => {
      const r = parseDuration(raw);
      if (r.ok && o.maxMs !== undefined && r.value > o.maxMs) return err('duration is too long');
      return r;
    });
  },
  /** A point in the past: a duration ago (`2h`, `7d`) or an ISO date/time. Returns epoch ms. */
  since<B extends Base & { now?: () => number }>(o: B): Spec<number, B> {
    return spec('string', o, (raw) => {
      const d = parseDuration(raw);
      if (d.ok) return ok((o.now ?? Date.now)() - d.value);
      if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw)) {
        const t = Date.parse(raw);
        if (Number.isFinite(t)) return ok(t);
      }
      return err('expected a duration ago (30m, 2h, 7d) or a date (2026-01-31)');
    });
  },
};

/** A user as seen by SiteFlow: platform id, display name, and role/group ids for permissions. */
export interface ChatUser {
  id: string;
  name: string;
  /** Discord role ids or Slack user-group ids. */
  roles: readonly string[];
}

/** A chat event turned into a platform-neutral request. */
export interface Invocation {
  platform: Platform;
  user: ChatUser;
  channelId: string;
  command: string;
  /** Raw option values by name, as typed (validated by the dispatcher). */
  args: Record<string, string>;
  receivedAt: number;
}

/** A block of reply content; each surface renders it in its own markup. */
export type Block =
  | { kind: 'text'; text: string }
  | { kind: 'fields'; fields: Array<[string, string]> }
  | {
      kind: 'table';
      columns: string[];
      rows: string[][];
      /**
       * Each row is one thing (a site): platforms that can show it as a card of its own do
       * (a Discord embed field, a Slack section with fields); others show the table.
       */
      cards?: boolean;
      /** With `cards`: how the cards are colored (any card not well: `bad`). */
      tone?: 'good' | 'bad';
    }
  | { kind: 'code'; text: string };

/** The outcome kind of a reply. */
export type ReplyStatus = 'ok' | 'error' | 'denied' | 'invalid' | 'busy';

/** A platform-neutral reply. `run` is set when the command started an operation to stream. */
export interface Reply {
  status: ReplyStatus;
  title: string;
  blocks: Block[];
  /** Shown only to the invoking user where the platform supports it. */
  ephemeral?: boolean;
  /** Id of the operation whose output the surface should stream. */
  operationId?: string;
  /** Set when the command asks the user to confirm before anything happens. */
  confirm?: ConfirmPrompt;
  /** Buttons under the reply (console: hints), e.g. Cancel on a running operation. */
  actions?: ReplyAction[];
}

/**
 * A button under a reply. A command button runs that command as the person who clicks, with
 * their level and in their name in the audit log, exactly as if they had typed it; a link
 * button opens a URL.
 */
export type ReplyAction =
  | { label: string; command: string; args: Record<string, string>; danger?: boolean }
  | { label: string; url: string };

/** A confirmation the surface shows as buttons (or as a `/confirm ID` hint in the console). */
export interface ConfirmPrompt {
  id: string;
  /** Label of the go-ahead button, e.g. "Deprovision blog". */
  confirmLabel: string;
  expiresAt: number;
}

/** Reply helpers. */
export const reply = {
  ok: (title: string, ...blocks: Block[]): Reply => ({ status: 'ok', title, blocks }),
  text: (title: string, text: string): Reply => ({ status: 'ok', title, blocks: [{ kind: 'text', text }] }),
  error: (title: string, text?: string): Reply => ({
    status: 'error',
    title,
    blocks: text ? [{ kind: 'text', text }] : [],
    ephemeral: true,
  }),
  invalid: (title: string, problems: string[]): Reply => ({
    status: 'invalid',
    title,
    blocks: problems.map((p) => ({ kind: 'text', text: p })),
    ephemeral: true,
  }),
};

/** Maps a reply status to the audit outcome recorded for it. */
export function outcomeOf(status: ReplyStatus): AuditOutcome {
  return status === 'ok'
    ? 'ok'
    : status === 'denied'
      ? 'denied'
      : status === 'invalid' || status === 'busy'
        ? 'rejected'
        : 'failed';
}

type Parsed<O> = {
  [K in keyof O]: O[K] extends OptionSpec<infer T>
    ? O[K] extends { required: true }
      ? T
      : T | undefined
    : never;
};

/** What a handler gets besides its parsed options. */
export interface CommandContext<S = unknown> {
  invocation: Invocation;
  actor: Actor;
  level: Level;
  services: S;
}

/** A declared command. `S` is the services bag the handler needs. */
export interface Command<S = unknown, O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  name: string;
  description: string;
  level: Level;
  /** Whether the command changes anything (mutating commands are single-flight per site). */
  mutates?: boolean;
  /** Audit this command even when its reply starts an operation (which audits itself as its owner's). */
  alwaysAudit?: boolean;
  /** Option order is the positional order on text surfaces. */
  options: O;
  run(ctx: CommandContext<S>, args: Parsed<O>): Promise<Reply> | Reply;
}

/**
 * Declares a command. Mark required options with `required: true` (literal) so the
 * handler sees them as defined.
 */
export function defineCommand<S, O extends Record<string, OptionSpec>>(c: Command<S, O>): Command<S, O> {
  return c;
}

/** Actor (who) from an invocation. */
export function actorOf(inv: Invocation): Actor {
  return { platform: inv.platform, id: inv.user.id, name: inv.user.name };
}
