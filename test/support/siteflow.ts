import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { ConsoleDriver } from './console-driver.js';
import { ShiftedClock } from './manual-clock.js';

/** A silent logger, or one that captures every line when `lines` is given. */
export function testLogger(lines?: string[]) {
  return pino(
    { level: lines ? 'debug' : 'silent' },
    new Writable({
      write(c, _e, cb) {
        lines?.push(String(c));
        cb();
      },
    }),
  );
}

/** A SiteFlow started in a temp data dir, driven through its console surface. */
export interface TestSiteFlow {
  app: SiteFlow;
  driver: ConsoleDriver;
  dir: string;
  logLines: string[];
  /** SiteFlow's clock: real time that the test may move forward (`clock.advance(ms)`). */
  clock: ShiftedClock;
  /**
   * Lists every engine once more, then resolves once that listing and every container event
   * received so far were inspected, applied to the live state and judged by the alert rules,
   * and every resulting delivery was queued and attempted (see `Monitor.settled`). Await it
   * after a condition, then assert that nothing more happened.
   */
  settled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts SiteFlow with the console surface on streams, a fresh data dir and a free web port. */
export async function startTestSiteFlow(
  env: Record<string, string> = {},
  opts: { dir?: string; clock?: ShiftedClock } = {},
): Promise<TestSiteFlow> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sf-test-'));
  const config = loadConfig(
    { DATA_DIR: join(dir, 'data'), SITES_ROOT: join(dir, 'sites'), WEB_PORT: '0', ...env },
    { envFile: null },
  );
  const driver = new ConsoleDriver();
  const logLines: string[] = [];
  const clock = opts.clock ?? new ShiftedClock();
  const app = await startSiteFlow(config, {
    clock,
    logger: testLogger(logLines),
    console: true,
    consoleInput: driver.input,
    consoleOutput: driver.output,
  });
  return {
    app,
    driver,
    dir,
    logLines,
    clock,
    async settled(timeoutMs) {
      await app.reconciler.refreshAll();
      await (app.monitor ? app.monitor.settled(timeoutMs) : app.reconciler.inspected());
    },
    async stop() {
      await app.stop('test done');
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
