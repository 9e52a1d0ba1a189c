/**
 * The seam between SiteFlow and its chat platforms. Each surface (console, Discord,
 * Slack) turns platform events into Invocations, calls the dispatcher, and renders the
 * Reply and the run stream; main.ts starts every surface whose credentials are set.
 */
import type { Config } from '../config.js';
import type { Completion } from '../core/command.js';
import type { CommandRegistry, Dispatcher } from '../core/dispatch.js';
import type { Clock, Logger, RunLog } from '../core/ports.js';
import type { Services } from '../services.js';

/** A running chat surface. */
export interface ChatSurface {
  readonly platform: 'discord' | 'slack' | 'console';
  start(): Promise<void>;
  /** Stops taking events and closes connections. */
  stop(): Promise<void>;
}

/** Completion candidates for an option (site names, services of a site, templates, operations). */
export type CompletionSource = (
  kind: Completion,
  typed: string,
  args: Record<string, string>,
) => Promise<string[]>;

/** What every chat surface gets from main.ts. */
export interface SurfaceDeps {
  config: Config;
  dispatcher: Dispatcher<Services>;
  registry: CommandRegistry<Services>;
  services: Services;
  runLog: RunLog;
  logger: Logger;
  clock: Clock;
  completions: CompletionSource;
}

/** True when Discord or Slack credentials are configured. */
export function chatConfigured(config: Config): boolean {
  return Boolean(config.DISCORD_TOKEN || config.SLACK_BOT_TOKEN);
}

/**
 * Starts a surface; when the platform is unreachable (or the token is refused) SiteFlow
 * keeps running on its other surfaces, says so, and tries again with backoff (up to
 * every 10 minutes). Returns whether the first start worked; `stop()` ends the retries.
 */
export function startSurface(
  surface: ChatSurface,
  logger: Logger,
  opts: { firstDelayMs?: number; maxDelayMs?: number } = {},
): { started: Promise<boolean>; stop(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let delay = opts.firstDelayMs ?? 5_000;
  const max = opts.maxDelayMs ?? 600_000;
  const attempt = async (): Promise<boolean> => {
    try {
      await surface.start();
      logger.info({ platform: surface.platform }, 'chat surface connected');
      return true;
    } catch (e) {
      logger.error(
        { platform: surface.platform, err: e instanceof Error ? e.message : String(e), retryInMs: delay },
        `${surface.platform} is not reachable or refused the credentials; SiteFlow keeps running and retries`,
      );
      if (!stopped) {
        timer = setTimeout(() => {
          delay = Math.min(delay * 2, max);
          void attempt();
        }, delay);
        timer.unref();
      }
      return false;
    }
  };
  return {
    started: attempt(),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
