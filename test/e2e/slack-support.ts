/** Shared setup of the Slack end-to-end tests: SiteFlow with its Slack surface on FakeSlack. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlackSurface } from '../../src/chat/slack/slack-surface.js';
import { loadConfig } from '../../src/config.js';
import { type SiteFlow, startSiteFlow } from '../../src/main.js';
import type { FakeSlack } from '../fakes/slack-server.js';
import { testLogger } from '../support/siteflow.js';

/** Signing secret shared by the tests and the sender. */
export const SIGNING_SECRET = 'slack-e2e-signing-secret-0123456789';

/** A SiteFlow whose only chat surface is Slack (console off), with a movable clock. */
export interface SlackSiteFlow {
  app: SiteFlow;
  slack: SlackSurface;
  dir: string;
  logLines: string[];
  /** Moves SiteFlow's clock forward (for confirmation expiry). */
  advance(ms: number): void;
  stop(): Promise<void>;
}

/** Starts SiteFlow in a temp data dir with the Slack surface pointed at `fake`. */
export async function startSlackSiteFlow(
  fake: FakeSlack,
  env: Record<string, string>,
): Promise<SlackSiteFlow> {
  const dir = mkdtempSync(join(tmpdir(), 'sf-slack-'));
  const config = loadConfig(
    {
      DATA_DIR: join(dir, 'data'),
      SITES_ROOT: join(dir, 'sites'),
      WEB_PORT: '0',
      CONSOLE: 'off',
      SLACK_BOT_TOKEN: fake.botToken,
      SLACK_API_URL: fake.apiUrl,
      ...env,
    },
    { envFile: null },
  );
  let offset = 0;
  const logLines: string[] = [];
  const app = await startSiteFlow(config, {
    logger: testLogger(logLines),
    console: false,
    clock: { now: () => Date.now() + offset },
  });
  const slack = app.surfaces.find((s): s is SlackSurface => s instanceof SlackSurface);
  if (!slack) throw new Error('no Slack surface started');
  return {
    app,
    slack,
    dir,
    logLines,
    advance: (ms) => {
      offset += ms;
    },
    async stop() {
      await app.stop('test done');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reverses Slack's escaping of &, < and >. */
export function unescapeSlack(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Every section text of a message's blocks. */
export function sectionTexts(blocks: unknown[]): string[] {
  return (blocks as { type?: string; text?: { text?: string } }[])
    .filter((b) => b.type === 'section')
    .map((b) => b.text?.text ?? '');
}

/** The output lines a person sees in a message: code-block sections, unescaped, fences removed. */
export function shownLines(blocks: unknown[]): string[] {
  return sectionTexts(blocks).flatMap((t) =>
    unescapeSlack(t.replace(/^```\n/, '').replace(/\n```$/, '')).split('\n'),
  );
}
