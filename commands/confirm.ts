import { opt, reply } from '../src/core/command.js';
import { CONFIRMATION_ID_RE } from '../src/core/confirmations.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'confirm',
  description: 'Confirm (or call off) an action that asked for confirmation',
  level: 'viewer',
  // The operation it starts is recorded as the requester's; this row records who confirmed.
  alwaysAudit: true,
  options: {
    id: opt.string({
      description: 'The confirmation id (cf_...)',
      required: true,
      max: 19,
      pattern: CONFIRMATION_ID_RE,
      patternHint: 'expected a confirmation id such as cf_0123456789abcdef',
    }),
    answer: opt.choice({
      description: 'yes to go ahead (default), no to call it off',
      choices: ['yes', 'no'],
    }),
  },
  run: async ({ services, actor, level }, { id, answer }) => {
    const r = services.confirmations.take(id, actor, level === 'admin');
    if (!r.ok) {
      const denied = r.error.code === 'not_yours';
      return {
        ...reply.invalid('Nothing was done', [r.error.message]),
        status: denied ? 'denied' : 'invalid',
      };
    }
    if (answer === 'no') return reply.text('Called off', `${r.value.summary}: nothing was done.`);
    return r.value.proceed();
  },
});
