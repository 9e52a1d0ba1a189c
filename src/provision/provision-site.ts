/**
 * The provision action: renders a template into the host's sites folder (SITES_ROOT here,
 * SITES_ROOTS on an ssh:// host), writes the Caddy snippet, reloads that host's Caddy, brings the
 * site up with compose there and waits for it to be healthy. The same flow serves every host: its
 * files, Caddy and health checks go through the target's HostAccess. Every step
 * that changed something registers its undo first; on any failure (including cancel and
 * timeout) the undos run in reverse and each is reported, unless KEEP_ON_FAILURE is set.
 * Secrets go only to the site's `.env` (mode 0600) and are masked in all output.
 */

import { posix } from 'node:path';
import { describePull, ensureImage } from '../actions/pull-site.js';
import { sanitizeLine } from '../actions/sanitize.js';
import { describeHealth, waitHealthy } from '../actions/wait-healthy.js';
import type { Compose, Engine } from '../core/engine.js';
import { describeError, SiteFlowError } from '../core/errors.js';
import type { ActionDef, ActionIO } from '../core/runs.js';
import { DOMAIN_LABEL } from '../core/url-checks.js';
import type { ProvisionStep, SqliteProvisionJournal } from '../db/sqlite-provision-journal.js';
import type { Caddy } from './caddy.js';
import type { ProvisionSettings, ProvisionTarget } from './provisioning.js';
import { type RenderedSite, renderSite } from './render-site.js';
import type { SiteTemplate } from './template-catalog.js';

const { dirname, join } = posix;

/** The compose file name provisioned sites use. */
export const SITE_COMPOSE_FILE = 'docker-compose.yml';

/** Budget of the undo's `compose down -v`. */
const UNDO_COMPOSE_TIMEOUT_MS = 120_000;

/**
 * How long a cancelled, timed-out or shut-down provision may keep running its undo before the
 * runner gives up on it: the `compose down -v` budget plus room for the Caddy reload.
 */
export const PROVISION_ABORT_GRACE_MS = UNDO_COMPOSE_TIMEOUT_MS + 30_000;

/** Options of the provision action. */
export interface ProvisionOptions {
  /** The host provisioned on: its sites folder, Caddy and access (files, tools, loopback HTTP). */
  target: ProvisionTarget & { caddy: Caddy };
  /** That host's engine. */
  engine: Engine;
  compose: Compose;
  /** Environment that points compose at the host (DOCKER_HOST, TLS), from `HostRegistry.composeEnv`. */
  composeEnv?: Record<string, string>;
  template: SiteTemplate;
  site: string;
  domain: string;
  settings: ProvisionSettings;
  timeoutMs: number;
  /** Picks the loopback port the web service is published on (default: a free one on the host). */
  allocatePort?: () => Promise<number>;
  /** Journals each step, so a provision killed with SiteFlow is undone at the next start. */
  journal?: SqliteProvisionJournal;
}

/** Why a name cannot be provisioned on this host, or null when it is free. */
export async function nameTaken(
  site: string,
  o: { engine: Engine; target: ProvisionTarget & { caddy: Caddy } },
): Promise<string | null> {
  const { access, caddy, sitesRoot } = o.target;
  const { on } = access;
  if (await access.fs.exists(join(sitesRoot, site)))
    return `a folder ${join(sitesRoot, site)} already exists${on}`;
  if (await access.fs.exists(caddy.snippetPath(site)))
    return `a Caddy snippet ${caddy.snippetPath(site)} already exists${on}`;
  const containers = await o.engine.containers(site);
  if (containers.length) return `a compose project "${site}" already has ${containers.length} container(s)`;
  return null;
}

interface Undo {
  what: string;
  run(): Promise<void>;
}

/** Builds the provision action (mutating, single-flight on the new site's name). */
export function provisionSite(o: ProvisionOptions): ActionDef {
  return {
    kind: 'provision',
    host: o.target.host,
    site: o.site,
    mutates: true,
    timeoutMs: o.timeoutMs,
    abortGraceMs: PROVISION_ABORT_GRACE_MS,
    args: { template: o.template.name, domain: o.domain },
    async run(io) {
      const undo: Undo[] = [];
      let secrets: string[] = [];
      const mask = (line: string) => {
        let s = sanitizeLine(line);
        for (const v of secrets) if (v.length >= 8) s = s.split(v).join('***');
        return s;
      };
      const out = (line: string, stream: 'stdout' | 'stderr' | 'info' = 'stdout') =>
        io.line(mask(line), stream);
      const step = (text: string) => io.line(text, 'info');
      const { host, access, caddy, sitesRoot } = o.target;
      const fs = access.fs;
      const siteDir = join(sitesRoot, o.site);
      // The journal must never fail the provision (a locked or full database): it is best effort.
      const journal = (what: 'begin' | 'end' | ProvisionStep) => {
        if (!o.journal) return;
        try {
          if (what === 'begin')
            o.journal.begin({
              host,
              site: o.site,
              kind: 'provision',
              operationId: null,
              siteDir,
              startedAt: Date.now(),
            });
          else if (what === 'end') o.journal.end(host, o.site);
          else o.journal.step(host, o.site, what);
        } catch (e) {
          io.logger.warn({ err: describeError(e), step: what }, 'provision journal not written');
        }
      };
      try {
        const taken = await nameTaken(o.site, o);
        if (taken) throw new SiteFlowError('PROVISION_EXISTS', `${o.site} cannot be provisioned: ${taken}`);
        const port = await (o.allocatePort ?? (() => access.freePort()))();
        const r: RenderedSite = renderSite(o.template, {
          site: o.site,
          domain: o.domain,
          port,
          caddyPort: o.settings.caddyPort,
          imageOverrides: o.settings.imageOverrides,
          labels: {
            ...o.settings.labels,
            'siteflow.site': o.site,
            'siteflow.template': o.template.name,
            // The URL checker checks the site at this domain (src/core/url-checks.ts).
            [DOMAIN_LABEL]: o.domain,
          },
        });
        secrets = r.secretNames.map((n) => r.env[n]!).filter(Boolean);

        step(`Creating ${siteDir}${access.on} from template ${o.template.name}`);
        journal('begin');
        await fs.mkdir(sitesRoot, { recursive: true });
        await fs.mkdir(siteDir, { mode: 0o750 }); // fails if it appeared meanwhile: never reuse a folder
        journal('folder'); // only once it is ours: an undo after a crash removes it
        undo.push({ what: `removed ${siteDir}`, run: () => fs.rm(siteDir, { recursive: true }) });
        await fs.writeFile(join(siteDir, SITE_COMPOSE_FILE), r.compose, { mode: 0o640 });
        await fs.writeFile(join(siteDir, '.env'), envFile(o.site, o.template.name, r), { mode: 0o600 });
        for (const d of r.dirs) await fs.mkdir(join(siteDir, d), { recursive: true });
        for (const f of r.files) {
          await fs.mkdir(dirname(join(siteDir, f.path)), { recursive: true });
          // Exclusive: a template file never replaces one SiteFlow wrote (compose file, .env).
          await fs.writeFile(join(siteDir, f.path), f.content, { mode: 0o644, exclusive: true });
        }
        out(
          `Wrote ${SITE_COMPOSE_FILE}, .env (mode 0600${r.secretNames.length ? `, ${r.secretNames.length} generated secret${r.secretNames.length === 1 ? '' : 's'}` : ''})${r.dirs.length ? `, folders ${r.dirs.join(', ')}` : ''}${r.files.length ? `, ${r.files.length} file(s)` : ''}`,
        );

        step(`Adding the Caddy route ${r.address} -> 127.0.0.1:${port}`);
        const snippet = await caddy.writeSnippet(o.site, r.caddy);
        journal('snippet');
        let reloaded = false;
        undo.push({
          what: `removed ${snippet} and reloaded Caddy`,
          run: async () => {
            await caddy.removeSnippet(o.site);
            if (reloaded) await caddy.reload();
          },
        });
        reloaded = true; // from here on Caddy may hold the route: the undo reloads
        journal('caddy-reload');
        out(`Caddy: ${await caddy.reload({ signal: io.signal })}`);

        step(`Starting ${r.images.length} image(s) with compose: ${r.images.join(', ')}`);
        undo.push({
          what: 'stopped and removed the containers, networks and volumes (compose down -v)',
          run: async () => {
            await o.compose.run(siteDir, o.site, ['down', '-v', '--remove-orphans'], {
              env: o.composeEnv ?? {},
              files: [SITE_COMPOSE_FILE],
              timeoutMs: UNDO_COMPOSE_TIMEOUT_MS,
              onLine: (l, s) => out(l, s),
            });
          },
        });
        journal('compose');
        // Pinned tags do not change: pull only what is missing (an image present locally, pulled
        // or built, is used as compose does by default), with aggregated progress.
        for (const ref of r.images) {
          const got = await ensureImage(o.engine, ref, {
            signal: io.signal,
            onProgress: (pr) => io.progress(ref, describePull(pr)),
          });
          if (got.pulled) out(`Pulled ${ref}${got.digest ? ` (${got.digest.slice(7, 19)})` : ''}`);
          else out(`Using the image ${ref} present on ${o.engine.name}`);
        }
        // The health budget starts here: `up` itself waits for `service_healthy` dependencies.
        const healthStart = Date.now();
        try {
          await o.compose.run(siteDir, o.site, ['up', '-d'], {
            env: o.composeEnv ?? {},
            files: [SITE_COMPOSE_FILE],
            signal: io.signal,
            timeoutMs: o.settings.healthTimeoutMs,
            onLine: (l, s) => out(l, s),
          });
        } catch (e) {
          if ((e as { code?: string }).code !== 'COMPOSE_TIMEOUT') throw e;
          const states = (await o.engine.containers(o.site).catch(() => []))
            .map((c) => `${c.service ?? c.name}: ${c.status}${c.health ? ` (${c.health})` : ''}`)
            .join(', ');
          throw new SiteFlowError(
            'PROVISION_UNHEALTHY',
            `not healthy within ${Math.round(o.settings.healthTimeoutMs / 1000)} s (compose was still waiting for dependencies): ${states || 'no containers'}`,
          );
        }

        await waitForSite(o, port, io, out, healthStart);
        step(`Site ${o.site} is up at ${r.address} (admin: ${r.adminUrl})`);
        if (r.secretNames.length)
          step(
            `Credentials (${r.secretNames.join(', ')}) are in ${join(siteDir, '.env')}, readable by its owner only.`,
          );
        journal('end');
        return { exitCode: 0 };
      } catch (e) {
        const reason = describeError(e).split('\n')[0]!;
        if (o.settings.keepOnFailure) {
          step(`Provision failed: ${mask(reason)}`);
          if (undo.length)
            step(
              `KEEP_ON_FAILURE=true: left in place for debugging: ${undo.map((u) => u.what.replace(/^\w+ /, '')).join('; ')}`,
            );
          journal('end');
          throw new SiteFlowError('PROVISION_FAILED', `${mask(reason)} (kept for debugging)`);
        }
        step(`Provision failed: ${mask(reason)}`);
        if (undo.length === 0) step('Nothing was created, so nothing had to be undone.');
        else step(`Undoing ${undo.length} step${undo.length === 1 ? '' : 's'}:`);
        const failed: string[] = [];
        for (const u of undo.reverse()) {
          try {
            await u.run();
            step(`undone: ${u.what}`);
          } catch (x) {
            failed.push(u.what);
            step(`could not undo (${u.what}): ${mask(describeError(x).split('\n')[0]!)}`);
          }
        }
        // An incomplete undo stays journalled: the next start tries it again.
        if (failed.length === 0) journal('end');
        throw new SiteFlowError(
          'PROVISION_FAILED',
          `${mask(reason)}; ${failed.length ? `undo incomplete (${failed.length} step(s) failed)` : `undid ${undo.length} step(s)`}`,
        );
      }
    },
  };
}

function envFile(site: string, template: string, r: RenderedSite): string {
  const lines = [
    `# Generated by SiteFlow for site ${site} (template ${template}).`,
    '# Holds generated credentials: keep it private (mode 0600), never commit it.',
  ];
  for (const [k, v] of Object.entries(r.env)) lines.push(`${k}=${v}`);
  return `${lines.join('\n')}\n`;
}

/** Waits for containers (and their healthchecks, e.g. database readiness), then the HTTP checks. */
async function waitForSite(
  o: ProvisionOptions,
  port: number,
  io: ActionIO,
  out: (l: string) => void,
  started: number,
): Promise<void> {
  const waitStart = Date.now();
  const deadline = started + o.settings.healthTimeoutMs;
  const { health } = o.template.meta;
  if (health.containers) {
    const containers = await o.engine.containers(o.site);
    const expected = o.template.meta.services.map((s) => s.name);
    const missing = expected.filter((s) => !containers.some((c) => c.service === s));
    if (missing.length)
      throw new SiteFlowError('PROVISION_UNHEALTHY', `no container for ${missing.join(', ')}`);
    io.line(
      `Waiting up to ${Math.round(o.settings.healthTimeoutMs / 1000)} s for ${containers.length} container(s) to be healthy`,
      'info',
    );
    const outcome = await waitHealthy(
      o.engine,
      containers.map((c) => c.id),
      {
        timeoutMs: Math.max(0, deadline - Date.now()),
        signal: io.signal,
        onSettled: (h) => out(describeHealth(h)),
      },
    );
    if (io.signal.aborted)
      throw new SiteFlowError('PROVISION_CANCELLED', 'cancelled while waiting for health');
    const bad = outcome.filter((h) => !h.ok);
    if (bad.length)
      throw new SiteFlowError(
        'PROVISION_UNHEALTHY',
        `not healthy within ${Math.round(o.settings.healthTimeoutMs / 1000)} s: ${bad.map(describeHealth).join(', ')}`,
      );
  }
  for (const check of health.http) {
    // Asked on the site's host: through its SSH connection for an ssh:// host.
    const url = `http://127.0.0.1:${port}${check.path}`;
    let last = 'no answer';
    for (;;) {
      if (io.signal.aborted)
        throw new SiteFlowError('PROVISION_CANCELLED', 'cancelled while waiting for health');
      try {
        const res = await o.target.access.fetch(url, {
          signal: AbortSignal.any([io.signal, AbortSignal.timeout(5_000)]),
        });
        await res.text().catch(() => '');
        const good = check.expect ? check.expect.includes(res.status) : res.status < 500;
        last = `HTTP ${res.status}`;
        if (good) break;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() >= deadline)
        throw new SiteFlowError(
          'PROVISION_UNHEALTHY',
          `GET ${check.path} did not answer as expected in time (${last})`,
        );
      await new Promise((res) => setTimeout(res, 500));
    }
    out(`GET ${check.path}: ${last}`);
  }
  io.line(
    `Healthy ${Date.now() - started} ms after compose up started (health wait ${Date.now() - waitStart} ms)`,
    'info',
  );
}
