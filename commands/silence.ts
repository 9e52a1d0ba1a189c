import { opt, reply } from '../src/core/command.js';
import { formatTime } from '../src/core/format.js';
import { alertTarget, defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'silence',
  description: 'Silence alerts of a site or host for a while (changes are still recorded)',
  level: 'operator',
  options: {
    target: alertTarget,
    duration: opt.duration({
      description: 'How long, e.g. 30m, 2h, 1d',
      required: true,
      maxMs: 30 * 86_400_000,
    }),
    reason: opt.string({ description: 'Why (shown in /silences)', max: 200 }),
  },
  run: ({ services, actor }, { target, duration, reason }) => {
    if (!services.monitor)
      return reply.error('The monitor is off', 'Set MONITOR_ENABLED=true to use alerts.');
    const r = services.monitor.silence(target, duration, actor, reason ?? null);
    if (!r.ok) return reply.invalid('Cannot silence', [r.error]);
    const s = r.value;
    return reply.text(
      `Silenced ${s.site ? `${s.host}/${s.site}` : `host ${s.host}`} until ${formatTime(s.until)}`,
      `Alerts are recorded but not posted${reason ? ` (${reason})` : ''}. /unsilence ${target} ends it early.`,
    );
  },
});
