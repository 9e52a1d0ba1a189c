import { opt, reply } from '../src/core/command.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'ack',
  description: 'Acknowledge an open alert: no more reminders',
  level: 'operator',
  options: {
    alert: opt.string({
      description: 'Alert id, as shown with the alert (al_...)',
      required: true,
      max: 60,
      pattern: /^al_[0-9a-z]{1,40}$/,
      patternHint: 'expected an alert id such as al_m3x9...',
      completion: 'alert',
    }),
  },
  run: ({ services, actor }, { alert }) => {
    if (!services.monitor)
      return reply.error('The monitor is off', 'Set MONITOR_ENABLED=true to use alerts.');
    const r = services.monitor.ack(alert, actor);
    if (!r.ok) return reply.invalid('Cannot acknowledge', [r.error]);
    return reply.text(`Acknowledged: ${r.value.title}`, `By ${actor.name}; no more reminders for ${alert}.`);
  },
});
