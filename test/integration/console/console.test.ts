import { afterEach, describe, expect, it } from 'vitest';
import { startTestSiteFlow, type TestSiteFlow } from '../../support/siteflow.js';

const running: TestSiteFlow[] = [];

async function start(env: Record<string, string> = {}) {
  const t = await startTestSiteFlow({ MONITOR_ENABLED: 'false', ...env });
  running.push(t);
  return t;
}

afterEach(async () => {
  for (const t of running.splice(0)) await t.stop();
});

describe('console surface', () => {
  it('answers /help with the commands the configured admin may run', async () => {
    const { driver } = await start();
    const out = await driver.type('/help', 'Options go in order');
    expect(out).toContain('✓ Commands for you (admin)');
    expect(out).toMatch(/\/audit \[site\] \[user\] \[action\] \[status\] \[since\] \[limit\]/);
  });

  it('is only a viewer when ADMINS does not name it, and says how to get more', async () => {
    const { driver } = await start({ ADMINS: 'discord:role:1', CONSOLE_USER: 'alice' });
    const out = await driver.type('/help', 'Options go in order');
    expect(out).toContain('Commands for you (viewer)');
  });

  it('shows the audit log, filters it and pages through it', async () => {
    const { driver } = await start({ CONSOLE_USER: 'alice' });
    await driver.type('/help', 'Options go in order');
    await driver.type('/nonsense', 'Unknown command');
    await driver.type('/audit site:../x', 'Invalid input');
    const all = await driver.type('/audit', 'Audit log');
    expect(all).toMatch(/alice \(console\)\s+nonsense\s+-\s+rejected/);
    expect(all).toMatch(/alice \(console\)\s+help\s+-\s+ok/);
    const rejected = await driver.type('/audit status:rejected', 'Audit log');
    expect(rejected).not.toMatch(/\bhelp\b/);
    expect(rejected).toMatch(/nonsense/);
    const page1 = await driver.type('/audit limit:2', 'More: add cursor:');
    const cursor = /cursor:(\S+)/.exec(page1)![1]!;
    const page2 = await driver.type(`/audit limit:2 cursor:${cursor}`, 'Audit log');
    // Newest first: page one holds the two latest audit reads; page two the rejected
    // /audit and /nonsense before them, and not yet /help.
    expect(page1).toMatch(/audit\s+-\s+ok[\s\S]*audit\s+-\s+ok/);
    expect(page2).toMatch(/audit\s+-\s+rejected/);
    expect(page2).toMatch(/nonsense\s+-\s+rejected/);
    expect(page2).not.toMatch(/\bhelp\b/);
  });

  it('rejects bad input with a clear message', async () => {
    const { driver } = await start();
    expect(await driver.type('/audit since:yesterday', 'Invalid input')).toContain(
      'since: expected a duration ago',
    );
    expect(await driver.type(`/audit ${'x'.repeat(10_000)}`, 'Invalid input')).toContain('too long');
    expect(await driver.type('/audit "unclosed', 'unclosed quote')).toBeTruthy();
  });

  it('completes command names and option values on Tab, through the session’s completions', async () => {
    const { app } = await start();
    const c = app.console!;
    expect(await c.complete('/res')).toEqual([['/restart'], '/res']);
    expect(await c.complete('/audit status:re')).toEqual([['status:rejected'], 'status:re']);
    // The second positional option of /audit is `user`: no candidates, no Docker call.
    expect(await c.complete('/audit blog ')).toEqual([[], '']);
    expect(await c.complete('/nonsense x')).toEqual([[], 'x']);
  });
});
