import { opt, reply } from '../src/core/command.js';
import { formatTime } from '../src/core/format.js';
import { scheduleActorName } from '../src/schedule/scheduler.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'schedule',
  description: 'Schedule restart, pull, prune or up on a cron; they run as the schedule and are audited',
  level: 'admin',
  options: {
    action: opt.choice({
      description: 'add, list or remove',
      choices: ['add', 'list', 'remove'] as const,
      required: true,
    }),
    cron: opt.string({
      description: 'add: when, e.g. "0 4 * * *" (node-cron; 6 fields with seconds); remove: the schedule id',
      max: 100,
      pattern: /^[0-9a-z_*,/ -]+$/,
      patternHint: 'a cron expression such as "0 4 * * *" (quote it), or a schedule id',
    }),
    command: opt.string({ description: 'add: the command line, e.g. "restart blog" (quote it)', max: 300 }),
  },
  run: ({ services, actor }, { action, cron, command }) => {
    const s = services.schedules;
    if (!s) return reply.error('Schedules are not available', 'The scheduler is not running.');
    if (action === 'list') {
      const list = s.list();
      if (!list.length)
        return reply.text(
          'No schedules',
          `Add one with /schedule add "<cron>" "<command line>" (${s
            .allowed()
            .map((c) => `/${c}`)
            .join(', ')}).`,
        );
      return reply.ok(`${list.length} schedule${list.length === 1 ? '' : 's'}`, {
        kind: 'table',
        columns: ['id', 'cron', 'runs', 'as', 'last run'],
        rows: list.map((x) => [
          x.id,
          x.cron,
          `/${x.commandLine}`,
          scheduleActorName(x),
          x.lastRunAt ? formatTime(x.lastRunAt) : 'never',
        ]),
      });
    }
    if (action === 'remove') {
      if (!cron)
        return reply.invalid('Cannot remove', [
          'Say which schedule: /schedule remove <id> (see /schedule list).',
        ]);
      const r = s.remove(cron);
      if (!r.ok) return reply.invalid('Cannot remove', [r.error]);
      return reply.text(`Removed schedule ${r.value.id}`, `/${r.value.commandLine} no longer runs.`);
    }
    if (!cron || !command)
      return reply.invalid('Cannot add', [
        'Usage: /schedule add "<cron>" "<command line>", e.g. /schedule add "0 4 * * *" "restart blog"',
      ]);
    const r = s.add(cron, command, actor);
    if (!r.ok) return reply.invalid('Cannot add', r.error);
    return reply.text(
      `Schedule ${r.value.id}: /${r.value.commandLine} at "${r.value.cron}"`,
      `It runs as "${scheduleActorName(r.value)}", waits for no one (a busy site refuses it) and is audited.`,
    );
  },
});
