import { reply } from '../src/core/command.js';
import { alertTarget, defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'unsilence',
  description: 'End the silence of a site or host: its alerts are posted again',
  level: 'operator',
  options: {
    target: alertTarget,
  },
  run: ({ services }, { target }) => {
    if (!services.monitor)
      return reply.error('The monitor is off', 'Set MONITOR_ENABLED=true to use alerts.');
    const r = services.monitor.unsilence(target);
    if (!r.ok) return reply.invalid('Cannot unsilence', [r.error]);
    return r.value > 0
      ? reply.text(`Unsilenced ${target}`, 'Its alerts are posted again.')
      : reply.text(`${target} was not silenced`, 'Nothing to end; see /silences.');
  },
});
