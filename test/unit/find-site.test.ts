/**
 * findSite over several hosts with stand-in engines (an object with `name` and `site()`; one of
 * them never answers) and a stand-in for the live state's last listings. Fake timers: a lookup
 * that resolves while no timer has run did not wait for HOST_ANSWER_MS.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Engine, HostRegistry, SiteInfo } from '../../src/core/engine.js';
import { findSite, type Services } from '../../src/services.js';

const site = (host: string, name: string): SiteInfo => ({
  host,
  name,
  projectDir: null,
  composeFiles: [],
  containers: [],
  state: 'up',
});

function hostsOf(engines: Record<string, (name: string) => Promise<SiteInfo | null>>): HostRegistry {
  const byName = new Map(
    Object.entries(engines).map(([name, lookup]) => [name, { name, site: lookup } as unknown as Engine]),
  );
  return {
    names: () => [...byName.keys()],
    get: (h) => byName.get(h),
    composeEnv: () => ({}),
    sitesRootHost: () => 'local',
  };
}

const hung = () => new Promise<SiteInfo | null>(() => undefined);

/** Resolves `p` if it settles while only microtasks and zero-delay timers run; else 'waiting'. */
async function withoutWaiting<T>(p: Promise<T>): Promise<T | 'waiting'> {
  let out: T | 'waiting' = 'waiting';
  void p.then((v) => {
    out = v;
  });
  await vi.advanceTimersByTimeAsync(0);
  return out;
}

describe('findSite with a bare name over several hosts', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not wait for a slow host the live state last saw without that site', async () => {
    const services: Pick<Services, 'hosts' | 'lastListing'> = {
      hosts: hostsOf({ local: async (n) => (n === 'blog' ? site('local', 'blog') : null), busy: hung }),
      lastListing: (h) => (h === 'busy' ? { reachable: true, sites: [site('busy', 'shop')], at: 0 } : null),
    };
    const r = await withoutWaiting(findSite(services, { host: null, name: 'blog' }));
    expect(r).toMatchObject({ ok: true, site: { host: 'local', name: 'blog' } });
  });

  it('does not wait for a slow host the live state last saw unreachable', async () => {
    const services: Pick<Services, 'hosts' | 'lastListing'> = {
      hosts: hostsOf({ local: async () => site('local', 'blog'), edge: hung }),
      lastListing: (h) => (h === 'edge' ? { reachable: false, sites: [], at: 0 } : null),
    };
    expect(await withoutWaiting(findSite(services, { host: null, name: 'blog' }))).toMatchObject({
      ok: true,
    });
  });

  it('waits (up to HOST_ANSWER_MS) for a slow host that last had the site, or was never listed', async () => {
    for (const last of [{ reachable: true, sites: [site('busy', 'blog')], at: 0 }, null]) {
      const services: Pick<Services, 'hosts' | 'lastListing'> = {
        hosts: hostsOf({ local: async () => site('local', 'blog'), busy: hung }),
        lastListing: (h) => (h === 'busy' ? last : null),
      };
      const p = findSite(services, { host: null, name: 'blog' });
      expect(await withoutWaiting(p)).toBe('waiting');
      await vi.advanceTimersByTimeAsync(3000);
      // After the deadline it answers with the one host that had it, as before.
      expect(await p).toMatchObject({ ok: true, site: { host: 'local' } });
    }
  });

  it('waits for a slow host while the site is not found yet', async () => {
    const services: Pick<Services, 'hosts' | 'lastListing'> = {
      hosts: hostsOf({ local: async () => null, busy: hung }),
      lastListing: () => ({ reachable: true, sites: [], at: 0 }),
    };
    const p = findSite(services, { host: null, name: 'blog' });
    expect(await withoutWaiting(p)).toBe('waiting');
    await vi.advanceTimersByTimeAsync(3000);
    const r = await p;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(JSON.stringify(r.reply)).toContain('Not reachable right now: busy');
  });
});
