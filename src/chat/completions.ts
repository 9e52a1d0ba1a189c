/** Completion candidates for chat autocomplete, from live engine data (cheap, bounded). */
import type { Completion } from '../core/command.js';
import { settleWithin } from '../core/deadline.js';
import type { Services } from '../services.js';
import { siteLabel } from '../services.js';
import type { CompletionSource } from './surface.js';

const MAX = 25; // Discord shows at most 25 choices

/** A completion source over the configured hosts and recent operations. */
export function completionSource(services: Services, templates: () => string[] = () => []): CompletionSource {
  return async (kind: Completion, typed: string, args: Record<string, string>) => {
    const t = typed.toLowerCase();
    const match = (xs: string[]) => xs.filter((x) => x.toLowerCase().includes(t)).slice(0, MAX);
    switch (kind) {
      case 'site': {
        const names: string[] = [];
        // Autocomplete must answer within the platform's 3 s: a host slower than 2 s is left out.
        const hosts = services.hosts.names();
        const listed = await settleWithin(hosts, 2000, (h) => services.hosts.get(h)!.listSites());
        for (const r of listed)
          if (r.status === 'ok') for (const s of r.value) names.push(siteLabel(services, s));
        return match(names.sort());
      }
      case 'service': {
        const m = args.site ? /^(?:([a-z0-9_-]+)\/)?([a-z0-9_-]+)$/.exec(args.site) : null;
        if (!m) return [];
        const r = await services.hosts.resolve({ host: m[1] ?? null, name: m[2]! }).catch(() => null);
        if (!r?.ok) return [];
        return match([
          ...new Set(r.value.site.containers.map((c) => c.service).filter((s): s is string => !!s)),
        ]);
      }
      case 'template':
        return match(templates());
      case 'operation':
        return match(services.runner.active().map((a) => a.operation.id));
    }
  };
}
