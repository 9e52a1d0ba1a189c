/** The logs action: the last lines of a site's containers, or a bounded follow. */
import type { ContainerInfo, Engine, SiteInfo } from '../core/engine.js';
import type { ActionDef } from '../core/runs.js';
import { sanitizeLine } from './sanitize.js';

/** Options of the logs action. */
export interface LogsOptions {
  engine: Engine;
  site: SiteInfo;
  service?: string;
  lines: number;
  /** Follow for at most this long; 0 = no follow. */
  followMs: number;
}

/** Builds the (read-only) logs action. */
export function logsSite(o: LogsOptions): ActionDef {
  return {
    kind: 'logs',
    host: o.site.host,
    site: o.site.name,
    mutates: false,
    // The follow window ends the action normally; the hard limit only guards a hung engine.
    timeoutMs: o.followMs + 60_000,
    args: { ...(o.service ? { service: o.service } : {}), lines: o.lines, follow: o.followMs > 0 },
    async run(io) {
      const targets: ContainerInfo[] = o.site.containers.filter((c) => !o.service || c.service === o.service);
      if (targets.length === 0) {
        io.line('No containers to read logs from.', 'info');
        return { exitCode: 1 };
      }
      const many = targets.length > 1;
      const ac = new AbortController();
      const stop = () => ac.abort();
      io.signal.addEventListener('abort', stop, { once: true });
      const timer = o.followMs > 0 ? setTimeout(stop, o.followMs) : null;
      try {
        await Promise.all(
          targets.map(async (c) => {
            const prefix = many ? `${c.service ?? c.name} | ` : '';
            for await (const l of o.engine.logs(c.id, {
              tail: o.lines,
              follow: o.followMs > 0,
              signal: ac.signal,
            })) {
              io.line(prefix + sanitizeLine(l.text), l.stream);
            }
          }),
        );
      } finally {
        if (timer) clearTimeout(timer);
        io.signal.removeEventListener('abort', stop);
      }
      if (o.followMs > 0 && !io.signal.aborted)
        io.line(`Stopped following after ${Math.round(o.followMs / 1000)} s.`, 'info');
      return { exitCode: 0 };
    },
  };
}
