/**
 * Reply buttons on every platform: a command button carries its command line in its id
 * (`sf:do:cancel?operation=op_…`), and a click runs that command as the clicker through the
 * dispatcher, so permissions and the audit log apply as for a typed command. A forged id can do
 * no more than the clicker could type.
 */
import type { Reply, ReplyAction } from '../core/command.js';
import type { RunEndEvent } from '../core/run-events.js';

/** Prefix of a command button's id (Discord custom_id, Slack action value). */
export const ACTION_PREFIX = 'sf:do:';
/** Discord custom ids and Slack action ids are at most 100 / 255 characters. */
const MAX_ID = 100;
const COMMAND_RE = /^[a-z][a-z0-9-]{0,31}$/;

/** The id of a command button, or null when it would not fit a platform's id. */
export function encodeAction(a: Extract<ReplyAction, { command: string }>): string | null {
  const id = `${ACTION_PREFIX}${a.command}?${new URLSearchParams(a.args).toString()}`;
  return id.length <= MAX_ID && COMMAND_RE.test(a.command) ? id : null;
}

/** The command line of a command button's id; null when it is not one of SiteFlow's. */
export function decodeAction(id: string): { command: string; args: Record<string, string> } | null {
  if (!id.startsWith(ACTION_PREFIX) || id.length > MAX_ID) return null;
  const rest = id.slice(ACTION_PREFIX.length);
  const q = rest.indexOf('?');
  const command = q < 0 ? rest : rest.slice(0, q);
  if (!COMMAND_RE.test(command)) return null;
  return { command, args: Object.fromEntries(new URLSearchParams(q < 0 ? '' : rest.slice(q + 1))) };
}

/** The buttons of a reply that can be shown: command buttons whose id fits, and links. */
export function shownActions(
  r: Reply,
): Array<{ label: string; id: string; danger: boolean } | { label: string; url: string }> {
  const out: Array<{ label: string; id: string; danger: boolean } | { label: string; url: string }> = [];
  for (const a of r.actions ?? []) {
    if ('url' in a) out.push({ label: a.label, url: a.url });
    else {
      const id = encodeAction(a);
      if (id) out.push({ label: a.label, id, danger: a.danger === true });
    }
  }
  return out;
}

/** The run's first message once the run ended: the outcome in its title, links kept, no Cancel. */
export function finishedRunReply(r: Reply, end: RunEndEvent): Reply {
  return {
    ...r,
    status: end.status === 'succeeded' ? 'ok' : 'error',
    title: `${r.title}: ${end.status.replace('_', ' ')}`,
    actions: (r.actions ?? []).filter((a) => 'url' in a),
  };
}

/** Command buttons as text hints for the console: `[Cancel: /cancel operation:op_…]`; links as URLs. */
export function actionHints(r: Reply): string | null {
  const hints = (r.actions ?? []).map((a) =>
    'url' in a
      ? `[${a.label}: ${a.url}]`
      : `[${a.label}: /${[a.command, ...Object.entries(a.args).map(([k, v]) => `${k}:${v}`)].join(' ')}]`,
  );
  return hints.length > 0 ? hints.join(' ') : null;
}
