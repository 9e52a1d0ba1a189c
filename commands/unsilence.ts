import { opt, reply } from '../src/core/command.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'unsilence',
  description: 'End the silence of a site or host: its alerts are posted again',
  level: 'operator',
  options: {
    target: opt.string({
      description: 'A site, host/site, or a host name',
      required: true,
      max: 129,
      pattern: /^[a-z0-9][a-z0-9_/-]{0,128}$/,
      patternHint: 'expected a site, host/site or host name',
    }),
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
