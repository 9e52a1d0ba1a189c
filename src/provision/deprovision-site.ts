/**
 * The deprovision action: compose down (volumes only when asked), remove the Caddy route and
 * reload, then archive the site folder to SITES_ROOT/.archive/<name>-<timestamp>.tar.gz (or
 * delete it when asked). Nothing is deleted silently: every removal is reported, and what is
 * kept (volumes, the archive) is named. A failed step stops the action before any later,
 * more destructive one. On an ssh:// host every step happens there, through the target's
 * HostAccess (SFTP, `tar` by exec, its Caddy through the SSH connection).
 */
import { posix } from 'node:path';
import { sanitizeLine } from '../actions/sanitize.js';
import type { Compose } from '../core/engine.js';
import { describeError } from '../core/errors.js';
import type { ActionDef } from '../core/runs.js';
import type { SqliteProvisionJournal } from '../db/sqlite-provision-journal.js';
import type { ProvisionTarget } from './provisioning.js';

const { join } = posix;

/** The archive folder under SITES_ROOT (its leading dot keeps it out of site scans). */
export const ARCHIVE_DIR = '.archive';

/**
 * How long a cancelled, timed-out or shut-down deprovision may take to stop (kill compose or tar,
 * remove a partial archive) before the runner gives up on it and frees the site.
 */
export const DEPROVISION_ABORT_GRACE_MS = 150_000;

/** Options of the deprovision action. */
export interface DeprovisionOptions {
  /** The site's host: its sites folder, Caddy (null: no route to remove) and access. */
  target: Pick<ProvisionTarget, 'host' | 'sitesRoot' | 'caddy' | 'access'>;
  compose: Compose;
  /** Environment that points compose at the host (DOCKER_HOST, TLS), from `HostRegistry.composeEnv`. */
  composeEnv?: Record<string, string>;
  site: string;
  removeVolumes: boolean;
  deleteFiles: boolean;
  timeoutMs: number;
  now?: () => Date;
  /** Journals the deprovision, so one killed with SiteFlow is finished at the next start. */
  journal?: SqliteProvisionJournal;
  /** Finishing one interrupted by a crash: a missing folder means compose down already ran. */
  resume?: boolean;
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
    host: o.target.host,
    site: o.site,
    mutates: true,
    timeoutMs: o.timeoutMs,
    abortGraceMs: DEPROVISION_ABORT_GRACE_MS,
    args: { removeVolumes: o.removeVolumes, deleteFiles: o.deleteFiles },
    async run(io) {
      const step = (t: string) => io.line(t, 'info');
      const { host, sitesRoot, caddy, access } = o.target;
      const { fs } = access;
      const exists = (p: string) => fs.exists(p);
      const siteDir = join(sitesRoot, o.site);
      // Best effort: a journal that cannot be written must not stop the deprovision.
      const journal = (fn: (j: SqliteProvisionJournal) => void) => {
        try {
          if (o.journal) fn(o.journal);
        } catch (e) {
          io.logger.warn({ err: describeError(e) }, 'provision journal not written');
        }
      };
      journal((j) =>
        j.begin({
          host,
          site: o.site,
          kind: 'deprovision',
          operationId: null,
          siteDir,
          args: { removeVolumes: o.removeVolumes, deleteFiles: o.deleteFiles },
          startedAt: Date.now(),
        }),
      );
      if (o.resume) step(`Finishing the deprovision of ${o.site} that a restart of SiteFlow interrupted.`);

      if (o.resume && !(await exists(siteDir))) {
        step(`No folder ${siteDir} any more: compose down already ran.`);
      } else {
        step(`Stopping ${o.site}: compose down${o.removeVolumes ? ' -v (removing its volumes)' : ''}`);
        await o.compose.run(
          siteDir,
          o.site,
          ['down', '--remove-orphans', ...(o.removeVolumes ? ['-v'] : [])],
          {
            env: o.composeEnv ?? {},
            signal: io.signal,
            onLine: (l, s) => io.line(sanitizeLine(l), s),
          },
        );
      }
      step(
        o.removeVolumes
          ? 'Containers, networks and named volumes removed.'
          : 'Containers and networks removed; named volumes were kept (remove-volumes:yes removes them).',
      );

      if (caddy) {
        if (await caddy.removeSnippet(o.site)) {
          step(`Removed the Caddy route ${caddy.snippetPath(o.site)}`);
        } else {
          step('No Caddy route file to remove; reloading Caddy in case an earlier reload failed.');
        }
        // Always reload: a retry after a failed reload finds the file gone while Caddy still serves the route.
        io.line(`Caddy: ${await caddy.reload({ signal: io.signal })}`);
      } else {
        step('No Caddy route to remove.');
      }

      if (!(await exists(siteDir))) {
        step(`No folder ${siteDir} to archive.`);
      } else if (o.deleteFiles) {
        await fs.rm(siteDir, { recursive: true });
        step(`Deleted ${siteDir} (delete-files was asked; no archive kept).`);
      } else {
        const archiveDir = join(sitesRoot, ARCHIVE_DIR);
        await fs.mkdir(archiveDir, { recursive: true, mode: 0o700 });
        const archive = join(archiveDir, `${o.site}-${archiveStamp((o.now ?? (() => new Date()))())}.tar.gz`);
        // The archive holds the site's .env (credentials): created owner-only before tar writes a
        // byte, and removed again if tar fails or is cancelled, so no partial copy is left behind.
        await fs.writeFile(archive, '', { mode: 0o600 });
        try {
          // tar runs on the site's host (by exec over SSH for a remote one) and writes into that file.
          await access.run('tar', ['-czf', archive, '-C', sitesRoot, '--', o.site], {
            timeoutMs: Math.max(60_000, o.timeoutMs - 30_000),
            signal: io.signal,
          });
        } catch (e) {
          await fs.rm(archive);
          throw e;
        }
        await fs.rm(siteDir, { recursive: true });
        step(`Archived ${siteDir} to ${archive}${access.on} and removed the folder.`);
      }
      journal((j) => j.end(host, o.site));
      step(`${o.site} is deprovisioned.`);
      return { exitCode: 0 };
    },
  };
}
