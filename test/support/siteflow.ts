import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import { ConsoleDriver } from './console-driver.js';

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
  stop(): Promise<void>;
}

/** Starts SiteFlow with the console surface on streams, a fresh data dir and a free web port. */
export async function startTestSiteFlow(
  env: Record<string, string> = {},
  opts: { dir?: string } = {},
): Promise<TestSiteFlow> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sf-test-'));
  const config = loadConfig(
    { DATA_DIR: join(dir, 'data'), SITES_ROOT: join(dir, 'sites'), WEB_PORT: '0', ...env },
    { envFile: null },
  );
  const driver = new ConsoleDriver();
  const logLines: string[] = [];
  const app = await startSiteFlow(config, {
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
    async stop() {
      await app.stop('test done');
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
