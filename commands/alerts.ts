import { opt, reply } from '../src/core/command.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'alerts',
  description: 'Show how alerts are routed to channels (ALERT_ROUTES_FILE)',
  level: 'viewer',
  options: {
    what: opt.choice({ description: 'What to show', choices: ['routes'] as const, required: true }),
  },
  run: ({ services }) => {
    if (!services.monitor)
      return reply.error('The monitor is off', 'Set MONITOR_ENABLED=true to use alerts.');
    return reply.ok('Alert routing', { kind: 'text', text: services.monitor.routing().join('\n') });
  },
});
