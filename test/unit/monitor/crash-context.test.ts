import { describe, expect, it } from 'vitest';
import { maskLine } from '../../../src/monitor/crash-context.js';

describe('crash context lines', () => {
  it('masks configured secrets and secret-looking values, strips control characters, clamps', () => {
    expect(maskLine('connecting with s3cr3t-value-123 now', ['s3cr3t-value-123'])).toBe(
      'connecting with [redacted] now',
    );
    expect(maskLine('DB_PASSWORD=hunter2 user=bob', [])).toBe('DB_PASSWORD=[redacted] user=bob');
    expect(maskLine('Authorization: Bearer abc.def', [])).toBe('Authorization: [redacted]');
    expect(maskLine('{"api_key": "k-123"}', [])).toBe('{"api_key": "[redacted]"}');
    expect(maskLine('passenger=3 \u001b[31mred\u001b[0m', [])).toBe('passenger=3 red');
    expect(maskLine('x'.repeat(1000), []).length).toBeLessThan(350);
  });
});
