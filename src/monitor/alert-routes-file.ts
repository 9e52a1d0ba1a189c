/**
 * Reads ALERT_ROUTES_FILE: YAML, validated with zod, every problem reported with its line
 * (`line 7: routes.1.to.0: expected a channel ...`). See src/core/alert-routes.ts for what
 * the routes mean.
 */
import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { AlertRoutes } from '../core/alert-routes.js';
import { ROUTE_KINDS } from '../core/alerts.js';
import { NAME_RE } from '../core/command.js';
import { err, ok, type Result } from '../core/result.js';

const name = z.string().regex(NAME_RE, 'expected a lowercase name (letters, digits, - and _)');
/** One value or a list of them (always a list once parsed). */
const oneOrMany = <T extends z.ZodType>(t: T) =>
  z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(t).min(1, 'expected at least one value'));
const channel = z
  .string()
  .regex(
    /^(console|discord|slack|ntfy|email|webhook(:[a-z0-9][a-z0-9_-]{0,31})?)$/,
    'expected a channel: console, discord, slack, ntfy, email, webhook or webhook:NAME',
  );
const severity = z.enum(['info', 'warning', 'critical'], { error: 'expected info, warning or critical' });
const kind = z.enum(ROUTE_KINDS, { error: `expected one of ${ROUTE_KINDS.join(', ')}` });
const num = z.number({ error: 'expected a number' }).min(0, 'expected a number >= 0');

const routeSchema = z
  .object({
    match: z
      .object({
        site: oneOrMany(name).optional(),
        host: oneOrMany(name).optional(),
        severity: oneOrMany(severity).optional(),
        kind: oneOrMany(kind).optional(),
      })
      .strict()
      .default({}),
    to: z.array(channel, { error: 'expected a list of channels' }).min(1, 'expected at least one channel'),
    continue: z.boolean({ error: 'expected true or false' }).default(false),
    down_after_seconds: num.optional(),
    recover_after_seconds: num.optional(),
    reminder_minutes: num.optional(),
  })
  .strict();

const fileSchema = z
  .object({
    routes: z.array(routeSchema, { error: 'expected a list of routes' }).default([]),
    default: z.array(channel, { error: 'expected a list of channels' }).optional(),
  })
  .strict();

/** Parses the text of a routes file; problems carry their line numbers. */
export function parseAlertRoutes(text: string): Result<AlertRoutes, string[]> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length)
    return err(doc.errors.map((e) => `line ${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`));
  const lineOf = (path: readonly PropertyKey[]): number => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as (string | number)[], true);
      if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
    }
    return 1;
  };
  const r = fileSchema.safeParse(doc.toJS() ?? {});
  if (!r.success)
    return err(
      r.error.issues.map((i) => {
        const at = i.path.length ? `${i.path.join('.')}: ` : '';
        return `line ${lineOf(i.path)}: ${at}${i.message}`;
      }),
    );
  return ok({
    routes: r.data.routes.map((x, i) => ({
      match: Object.fromEntries(Object.entries(x.match).filter(([, v]) => v !== undefined)),
      to: x.to,
      continue: x.continue,
      ...(x.down_after_seconds !== undefined ? { downAfterSeconds: x.down_after_seconds } : {}),
      ...(x.recover_after_seconds !== undefined ? { recoverAfterSeconds: x.recover_after_seconds } : {}),
      ...(x.reminder_minutes !== undefined ? { reminderMinutes: x.reminder_minutes } : {}),
      line: lineOf(['routes', i]),
    })),
    default: r.data.default ?? null,
  });
}

/** Reads and parses a routes file ('' path: no routing, null). */
export function readAlertRoutes(path: string): Result<AlertRoutes | null, string[]> {
  if (!path) return ok(null);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return err([`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
  return parseAlertRoutes(text);
}
