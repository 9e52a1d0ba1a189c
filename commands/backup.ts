import type { BackupCheckState, BackupReport, BackupResult } from '../src/core/backup.js';
import { opt, type Reply, reply } from '../src/core/command.js';
import { formatAgo, formatTime } from '../src/core/format.js';
import { defineCommand } from '../src/services.js';

/** Bytes as B, KB, MB, GB, TB (1024-based, one decimal above KB). */
function formatSize(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** How each state reads in chat. */
const LABEL: Record<BackupCheckState, string> = {
  fresh: 'fresh',
  stale: 'STALE',
  missing: 'MISSING',
  unreachable: 'NAS unreachable',
  auth_failed: 'NAS login refused',
  host_key_mismatch: 'NAS host key mismatch',
  error: 'error',
};

function newest(r: BackupResult, now: number): string {
  return r.newestAt === null ? '-' : formatAgo(r.newestAt, now);
}

function summary(results: readonly BackupResult[]): string {
  const counts = new Map<BackupCheckState, number>();
  for (const r of results) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${LABEL[s]}`).join(', ');
}

function overview(report: BackupReport, now: number): Reply {
  const { results, failure } = report;
  if (!results.length)
    return reply.text(
      'No sites to check',
      'No site is known: none is listed by the Docker hosts and none is mapped in NAS_BACKUP_MAP.',
    );
  const r: Reply = reply.ok(
    failure
      ? `Backups not checked: ${LABEL[failure.state]}`
      : `Backups of ${results.length} site${results.length === 1 ? '' : 's'}: ${summary(results)}`,
  );
  if (failure) {
    r.status = 'error';
    r.blocks.push({ kind: 'text', text: failure.message });
  }
  r.blocks.push({
    kind: 'table',
    columns: ['site', 'backup', 'newest', 'size', 'folder'],
    rows: results.map((x) => [x.site, LABEL[x.state], newest(x, now), formatSize(x.sizeBytes), x.path]),
  });
  if (!failure) {
    for (const x of results)
      if (x.state !== 'fresh' && x.message) r.blocks.push({ kind: 'text', text: `${x.site}: ${x.message}` });
  }
  if (report.unlistedHosts.length)
    r.blocks.push({
      kind: 'text',
      text: `Docker host${report.unlistedHosts.length === 1 ? '' : 's'} not reachable: ${report.unlistedHosts.join(', ')} (their sites as of the last check).`,
    });
  return r;
}

function detail(x: BackupResult, now: number): Reply {
  const r = reply.ok(`${x.site}: backup ${LABEL[x.state]}`);
  if (
    x.state === 'unreachable' ||
    x.state === 'auth_failed' ||
    x.state === 'host_key_mismatch' ||
    x.state === 'error'
  )
    r.status = 'error';
  const fields: Array<[string, string]> = [
    ['state', x.state],
    ['folder', x.path],
    ['newest backup', x.newestName ?? '-'],
    ['made', x.newestAt === null ? '-' : `${formatAgo(x.newestAt, now)} (${formatTime(x.newestAt)})`],
    ['size', formatSize(x.sizeBytes)],
    ['checked', formatTime(x.checkedAt)],
  ];
  if (x.hosts.length) fields.push(['runs on', x.hosts.join(', ')]);
  r.blocks.push({ kind: 'fields', fields });
  if (x.message) r.blocks.push({ kind: 'text', text: x.message });
  return r;
}

export default defineCommand({
  name: 'backup',
  description: 'Check the NAS backups of every site, or of one site',
  level: 'viewer',
  options: { site: opt.site({ description: 'Check only this site' }) },
  run: async ({ services }, { site }) => {
    const backups = services.backups;
    if (!backups || backups.disabled)
      return reply.text(
        'NAS backup checks are off',
        backups?.disabled ?? 'NAS backup checks are not configured (NAS_HOST, NAS_USER, NAS_HOST_KEY).',
      );
    const now = () => services.clock.now();
    if (!site) return overview((await backups.check())!, now());
    const report = await backups.check(site.name);
    if (!report)
      return reply.invalid(`No site "${site.name}"`, [
        'Backups are checked for the sites of the Docker hosts and those in NAS_BACKUP_MAP. Try /backup for all.',
      ]);
    const one = report.results[0];
    if (!one) return reply.error(`${site.name}: not checked`);
    return detail(one, now());
  },
});
