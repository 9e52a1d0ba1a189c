/**
 * The deprovision action: compose down (volumes only when asked), remove the Caddy route and
 * reload, then archive the site folder to SITES_ROOT/.archive/<name>-<timestamp>.tar.gz (or
 * delete it when asked). Nothing is deleted silently: every removal is reported, and what is
 * kept (volumes, the archive) is named. A failed step stops the action before any later,
 * more destructive one.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sanitizeLine } from '../actions/sanitize.js';
import type { Compose } from '../core/engine.js';
import type { ActionDef } from '../core/runs.js';
import type { Caddy } from './caddy.js';
import { exists } from './fs-exists.js';
import { runTool } from './run-tool.js';

/** The archive folder under SITES_ROOT (its leading dot keeps it out of site scans). */
export const ARCHIVE_DIR = '.archive';

/** Options of the deprovision action. */
export interface DeprovisionOptions {
  host: string;
  compose: Compose;
  caddy: Caddy | null;
  site: string;
  sitesRoot: string;
  removeVolumes: boolean;
  deleteFiles: boolean;
  timeoutMs: number;
  now?: () => Date;
}

/** `20250131T120501Z` */
export function archiveStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** Builds the deprovision action (mutating, single-flight on the site). */
export function deprovisionSite(o: DeprovisionOptions): ActionDef {
  return {
    kind: 'deprovision',
    host: o.host,
    site: o.site,
    mutates: true,
    timeoutMs: o.timeoutMs,
    args: { removeVolumes: o.removeVolumes, deleteFiles: o.deleteFiles },
    async run(io) {
      const step = (t: string) => io.line(t, 'info');
      const siteDir = join(o.sitesRoot, o.site);

      step(`Stopping ${o.site}: compose down${o.removeVolumes ? ' -v (removing its volumes)' : ''}`);
      await o.compose.run(siteDir, o.site, ['down', '--remove-orphans', ...(o.removeVolumes ? ['-v'] : [])], {
        signal: io.signal,
        onLine: (l, s) => io.line(sanitizeLine(l), s),
      });
      step(
        o.removeVolumes
          ? 'Containers, networks and named volumes removed.'
          : 'Containers and networks removed; named volumes were kept (remove-volumes:yes removes them).',
      );

      if (o.caddy && (await exists(o.caddy.snippetPath(o.site)))) {
        await o.caddy.removeSnippet(o.site);
        step(`Removed the Caddy route ${o.caddy.snippetPath(o.site)}`);
        io.line(`Caddy: ${await o.caddy.reload({ signal: io.signal })}`);
      } else {
        step('No Caddy route to remove.');
      }

      if (!(await exists(siteDir))) {
        step(`No folder ${siteDir} to archive.`);
      } else if (o.deleteFiles) {
        await rm(siteDir, { recursive: true, force: true });
        step(`Deleted ${siteDir} (delete-files was asked; no archive kept).`);
      } else {
        const archiveDir = join(o.sitesRoot, ARCHIVE_DIR);
        await mkdir(archiveDir, { recursive: true, mode: 0o700 });
        const archive = join(archiveDir, `${o.site}-${archiveStamp((o.now ?? (() => new Date()))())}.tar.gz`);
        await runTool('tar', ['-czf', archive, '-C', o.sitesRoot, '--', o.site], {
          timeoutMs: Math.max(60_000, o.timeoutMs - 30_000),
          signal: io.signal,
        });
        // The archive holds the site's .env (credentials): owner only.
        await chmod(archive, 0o600);
        await rm(siteDir, { recursive: true, force: true });
        step(`Archived ${siteDir} to ${archive} and removed the folder.`);
      }
      step(`${o.site} is deprovisioned.`);
      return { exitCode: 0 };
    },
  };
}
