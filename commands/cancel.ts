import { opt, reply } from '../src/core/command.js';
import { OPERATION_ID_RE } from '../src/core/operation-id.js';
import { defineCommand } from '../src/services.js';

export default defineCommand({
  name: 'cancel',
  description: 'Cancel a running operation you started (admins: any)',
  level: 'operator',
  options: {
    operation: opt.string({
      description: 'Operation id, as shown when it started (op_...)',
      required: true,
      max: 40,
      pattern: OPERATION_ID_RE,
      patternHint: 'expected an operation id such as op_01jd5t3q9x...',
      completion: 'operation',
    }),
  },
  run: ({ services, actor, level }, { operation }) => {
    const r = services.runner.cancel(operation, actor, level === 'admin');
    if (r.ok)
      return reply.text(
        `Cancelling ${operation}`,
        `${r.value.kind} of ${r.value.site ?? '-'} is being stopped.`,
      );
    switch (r.error.code) {
      case 'not_found':
        return reply.invalid(`No operation ${operation}`, [r.error.message]);
      case 'not_yours':
        return { ...reply.invalid(`Not yours to cancel`, [r.error.message]), status: 'denied' };
      case 'already_finished':
        return reply.invalid(`${operation} already ended`, [`It is ${r.error.status}.`]);
    }
  },
});
