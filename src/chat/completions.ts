/**
 * Completion candidates for chat autocomplete, answered from memory: the live state (sites,
 * services, hosts, alerts, silences), the runner's running operations and the template catalog.
 * Never a Docker call per keystroke.
 */
import type { Completion } from '../core/command.js';
import type { LiveSnapshot } from '../core/live-state.js';
import type { CompletionSource } from './surface.js';

const MAX = 25; // Discord shows at most 25 choices

/** Where completions come from; every source is in memory. */
export interface CompletionDeps {
  state: { snapshot(): LiveSnapshot };
  /** Running operations (ids). */
  operations: () => string[];
  templates: () => string[];
}

/** A completion source over the live state, running operations and templates. */
export function completionSource(deps: CompletionDeps): CompletionSource {
  return async (kind: Completion, typed: string, args: Record<string, string>) => {
    const t = typed.toLowerCase();
    const match = (xs: Iterable<string>) =>
      [...new Set(xs)].filter((x) => x.toLowerCase().includes(t)).slice(0, MAX);
    const snap = deps.state.snapshot();
    const label = (host: string, site: string) => (snap.hosts.length > 1 ? `${host}/${site}` : site);
    const sites = () => snap.hosts.flatMap((h) => h.sites.map((s) => label(h.name, s.name))).sort();
    switch (kind) {
      case 'site':
        return match(sites());
      case 'service': {
        const m = args.site ? /^(?:([a-z0-9_-]+)\/)?([a-z0-9_-]+)$/.exec(args.site) : null;
        if (!m) return [];
        const site = snap.hosts
          .filter((h) => !m[1] || h.name === m[1])
          .flatMap((h) => h.sites)
          .find((s) => s.name === m[2]);
        return match((site?.containers ?? []).map((c) => c.service).filter((s): s is string => !!s));
      }
      case 'host':
        return match(snap.hosts.map((h) => h.name));
      case 'template':
        return match(deps.templates());
      case 'operation':
        return match(deps.operations());
      case 'alert':
        return match(snap.alerts.map((a) => a.id));
      case 'target': {
        // Silenced targets first (for /unsilence), then every site and host.
        const silenced = snap.silences.map((s) => (s.site ? label(s.host ?? '', s.site) : (s.host ?? '')));
        return match([...silenced.filter(Boolean), ...sites(), ...snap.hosts.map((h) => h.name)]);
      }
    }
  };
}
