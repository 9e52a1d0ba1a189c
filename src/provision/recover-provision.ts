/**
 * After a crash: a provision that was interrupted (SiteFlow killed while it ran) is undone in
 * reverse like a failed one, from what its journal says it did: the containers, networks and
 * volumes of the compose project (`compose down -v`, only when it got as far as compose), the
 * Caddy snippet (and a reload, if Caddy had been reloaded with it), and the site folder. It runs
 * as an operation of its own (kind `provision-undo`), so it streams into a run log and is audited.
 */
import { posix } from 'node:path';
import type { Compose } from '../core/engine.js';
import { describeError, SiteFlowError } from '../core/errors.js';
import type { ActionDef } from '../core/runs.js';
import type { JournalEntry, SqliteProvisionJournal } from '../db/sqlite-provision-journal.js';
import type { Caddy } from './caddy.js';
import type { HostAccess } from './host-access.js';
import { PROVISION_ABORT_GRACE_MS, SITE_COMPOSE_FILE } from './provision-site.js';

/** Options of {@link undoInterruptedProvision}. */
export interface UndoProvisionOptions {
  entry: JournalEntry;
  compose: Compose;
  composeEnv: Record<string, string>;
  /** The Caddy of the provision's host. */
  caddy: Caddy;
  /** The provision's host (its files are there). */
  access: HostAccess;
  journal: SqliteProvisionJournal;
}

/** The action that undoes one interrupted provision; see the module comment. */
export function undoInterruptedProvision(o: UndoProvisionOptions): ActionDef {
  const { entry } = o;
  return {
    kind: 'provision-undo',
    host: entry.host,
    site: entry.site,
    mutates: true,
    timeoutMs: PROVISION_ABORT_GRACE_MS,
    abortGraceMs: PROVISION_ABORT_GRACE_MS,
    args: { startedAt: new Date(entry.startedAt).toISOString(), steps: entry.steps.join(',') || 'none' },
    async run(io) {
      const step = (t: string) => io.line(t, 'info');
      step(
        `The provision of ${entry.site} started ${new Date(entry.startedAt).toISOString()} was interrupted by a restart of SiteFlow: undoing ${entry.steps.length} step(s) in reverse.`,
      );
      const has = (s: string) => entry.steps.includes(s as never);
      const failed: string[] = [];
      const attempt = async (what: string, fn: () => Promise<void>) => {
        try {
          await fn();
          step(`undone: ${what}`);
        } catch (e) {
          failed.push(what);
          step(`could not undo (${what}): ${describeError(e).split('\n')[0]}`);
        }
      };
      if (has('compose')) {
        await attempt(
          'stopped and removed the containers, networks and volumes (compose down -v)',
          async () => {
            if (!(await o.access.fs.exists(posix.join(entry.siteDir, SITE_COMPOSE_FILE))))
              throw new SiteFlowError('PROVISION_UNDO', `no ${SITE_COMPOSE_FILE} in ${entry.siteDir}`);
            await o.compose.run(entry.siteDir, entry.site, ['down', '-v', '--remove-orphans'], {
              env: o.composeEnv,
              files: [SITE_COMPOSE_FILE],
              timeoutMs: PROVISION_ABORT_GRACE_MS - 30_000,
              signal: io.signal,
              onLine: (l, s) => io.line(l, s),
            });
          },
        );
      }
      if (has('snippet'))
        await attempt(
          `removed ${o.caddy.snippetPath(entry.site)}${has('caddy-reload') ? ' and reloaded Caddy' : ''}`,
          async () => {
            await o.caddy.removeSnippet(entry.site);
            if (has('caddy-reload')) await o.caddy.reload({ signal: io.signal });
          },
        );
      if (has('folder'))
        await attempt(`removed ${entry.siteDir}`, () => o.access.fs.rm(entry.siteDir, { recursive: true }));
      if (failed.length)
        throw new SiteFlowError(
          'PROVISION_UNDO_INCOMPLETE',
          `undo of the interrupted provision incomplete (${failed.length} step(s) failed); it is tried again at the next start`,
        );
      o.journal.end(entry.host, entry.site);
      step(`The interrupted provision of ${entry.site} is undone; the name is free again.`);
      return { exitCode: 0 };
    },
  };
}
