/**
 * The pure half of the NAS backup checks: the bounded walk (over the real local filesystem),
 * classification into fresh / stale / missing / error, NAS_BACKUP_MAP parsing, folder paths,
 * the live-state mapping and fingerprints.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BackupTarget,
  backupPathFor,
  classifyBackup,
  type DirEntry,
  type FolderScan,
  failedResult,
  formatFingerprint,
  type ListDir,
  parseBackupMap,
  scanBackupFolder,
  toBackupStatus,
} from '../../../src/core/backup.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const target: BackupTarget = { site: 'blog', path: '/volume1/backups/blog', hosts: ['local'] };
const opts = { now: NOW, staleAfterMs: 26 * HOUR };

/** A ListDir over the local filesystem (what SFTP readdir gives, minus the network). */
const localList: ListDir = async (path, max) => {
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const entries: DirEntry[] = [];
  for (const name of names) {
    if (entries.length >= max) return { entries, truncated: true };
    const st = await lstat(join(path, name));
    entries.push({
      name,
      kind: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other',
      mtimeMs: Math.floor(st.mtimeMs / 1000) * 1000,
      size: st.size,
    });
  }
  return { entries, truncated: false };
};

const root = mkdtempSync(join(tmpdir(), 'sf-backup-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function file(path: string, bytes: number, mtimeMs: number): void {
  writeFileSync(path, Buffer.alloc(bytes, 1));
  utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
}

describe('scanBackupFolder', () => {
  it('reports an absent folder', async () => {
    expect(await scanBackupFolder(localList, join(root, 'nope'))).toEqual({ kind: 'absent' });
  });

  it('finds the newest top-level file with its size', async () => {
    const dir = join(root, 'files');
    mkdirSync(dir);
    file(join(dir, 'blog-2026-01-13.tar.gz'), 300, NOW - 50 * HOUR);
    file(join(dir, 'blog-2026-01-15.tar.gz'), 700, NOW - 2 * HOUR);
    file(join(dir, 'blog-2026-01-14.tar.gz'), 500, NOW - 26 * HOUR);
    const scan = await scanBackupFolder(localList, dir);
    expect(scan).toEqual({
      kind: 'scanned',
      backups: 3,
      truncated: false,
      newest: { name: 'blog-2026-01-15.tar.gz', at: NOW - 2 * HOUR, sizeBytes: 700, files: 1 },
    });
  });

  it('treats a folder of files as one backup: newest file time, summed size', async () => {
    const dir = join(root, 'dated');
    mkdirSync(join(dir, '2026-01-14', 'db'), { recursive: true });
    mkdirSync(join(dir, '2026-01-15', 'db'), { recursive: true });
    file(join(dir, '2026-01-14', 'files.tar'), 1000, NOW - 30 * HOUR);
    file(join(dir, '2026-01-15', 'files.tar'), 1000, NOW - 5 * HOUR);
    file(join(dir, '2026-01-15', 'db', 'dump.sql.gz'), 24, NOW - 4 * HOUR);
    const scan = await scanBackupFolder(localList, dir);
    expect(scan).toMatchObject({
      kind: 'scanned',
      backups: 2,
      newest: { name: '2026-01-15', at: NOW - 4 * HOUR, sizeBytes: 1024, files: 2 },
    });
  });

  it('ignores empty folders, symlinks and NAS housekeeping entries', async () => {
    const dir = join(root, 'noise');
    mkdirSync(join(dir, 'empty'), { recursive: true });
    mkdirSync(join(dir, '@eaDir'));
    mkdirSync(join(dir, '#recycle'));
    file(join(dir, '@eaDir', 'thumb'), 5, NOW);
    file(join(dir, '#recycle', 'old.tar'), 5, NOW);
    file(join(dir, '.DS_Store'), 5, NOW);
    file(join(root, 'outside.tar'), 5, NOW);
    symlinkSync(join(root, 'outside.tar'), join(dir, 'link.tar'));
    expect(await scanBackupFolder(localList, dir)).toEqual({
      kind: 'scanned',
      backups: 0,
      newest: null,
      truncated: false,
    });
  });

  it('stops at the depth bound and says it was truncated', async () => {
    const dir = join(root, 'deep');
    mkdirSync(join(dir, 'a', 'b', 'c'), { recursive: true });
    file(join(dir, 'a', 'b', 'c', 'deep.tar'), 9, NOW - HOUR);
    file(join(dir, 'a', 'shallow.tar'), 3, NOW - 40 * HOUR);
    const shallow = await scanBackupFolder(localList, dir, { maxDepth: 2, maxEntries: 100 });
    expect(shallow).toMatchObject({ kind: 'scanned', truncated: true, newest: { at: NOW - 40 * HOUR } });
    const deep = await scanBackupFolder(localList, dir, { maxDepth: 4, maxEntries: 100 });
    expect(deep).toMatchObject({
      kind: 'scanned',
      truncated: false,
      newest: { at: NOW - HOUR, sizeBytes: 12 },
    });
  });

  it('reads at most maxEntries entries', async () => {
    const dir = join(root, 'many');
    mkdirSync(dir);
    for (let i = 0; i < 30; i++) file(join(dir, `b${String(i).padStart(2, '0')}.tar`), 1, NOW - i * HOUR);
    let read = 0;
    const counting: ListDir = async (p, max) => {
      const r = await localList(p, max);
      read += r?.entries.length ?? 0;
      return r;
    };
    const scan = await scanBackupFolder(counting, dir, { maxDepth: 3, maxEntries: 10 });
    expect(read).toBe(10);
    expect(scan).toMatchObject({ kind: 'scanned', backups: 10, truncated: true });
  });

  it('turns a listing error into a failed scan', async () => {
    const failing: ListDir = async () => {
      throw new Error('permission denied');
    };
    expect(await scanBackupFolder(failing, '/x')).toEqual({ kind: 'failed', message: 'permission denied' });
  });
});

describe('classifyBackup', () => {
  const scanned = (at: number | null, truncated = false): FolderScan => ({
    kind: 'scanned',
    backups: at === null ? 0 : 1,
    truncated,
    newest: at === null ? null : { name: 'b.tar', at, sizeBytes: 42, files: 1 },
  });

  it('is fresh within the threshold', () => {
    const r = classifyBackup(target, scanned(NOW - 25 * HOUR), opts);
    expect(r).toMatchObject({
      state: 'fresh',
      newestAt: NOW - 25 * HOUR,
      sizeBytes: 42,
      newestName: 'b.tar',
    });
    expect(r.message).toBeNull();
    expect(r.checkedAt).toBe(NOW);
    expect(r.hosts).toEqual(['local']);
  });

  it('is fresh exactly at the threshold and stale just past it', () => {
    expect(classifyBackup(target, scanned(NOW - 26 * HOUR), opts).state).toBe('fresh');
    const stale = classifyBackup(target, scanned(NOW - 26 * HOUR - 1), opts);
    expect(stale.state).toBe('stale');
    expect(stale.message).toContain('older than 26 h');
    expect(stale.newestAt).toBe(NOW - 26 * HOUR - 1);
  });

  it('is missing when the folder is absent or has no backups', () => {
    const absent = classifyBackup(target, { kind: 'absent' }, opts);
    expect(absent).toMatchObject({ state: 'missing', newestAt: null, sizeBytes: null });
    expect(absent.message).toContain('/volume1/backups/blog');
    const empty = classifyBackup(target, scanned(null), opts);
    expect(empty.state).toBe('missing');
    expect(empty.message).toContain('no backups');
  });

  it('is an error when the folder cannot be read', () => {
    const r = classifyBackup(target, { kind: 'failed', message: 'permission denied' }, opts);
    expect(r).toMatchObject({ state: 'error' });
    expect(r.message).toContain('permission denied');
  });

  it('notes a truncated walk', () => {
    expect(classifyBackup(target, scanned(NOW, true), opts).message).toMatch(/too large/);
  });

  it('keeps the last known newest backup when the NAS fails', () => {
    const before = classifyBackup(target, scanned(NOW - HOUR), opts);
    const r = failedResult(target, { state: 'unreachable', message: 'cannot connect' }, before, NOW + HOUR);
    expect(r).toMatchObject({
      state: 'unreachable',
      newestAt: NOW - HOUR,
      sizeBytes: 42,
      checkedAt: NOW + HOUR,
      message: 'cannot connect',
    });
    expect(failedResult(target, { state: 'auth_failed', message: 'x' }, null, NOW).newestAt).toBeNull();
  });
});

describe('toBackupStatus', () => {
  it('passes the simple states through and folds connection failures into error', () => {
    const fresh = classifyBackup(target, { kind: 'absent' }, opts);
    expect(toBackupStatus(fresh)).toEqual({
      state: 'missing',
      newestAt: null,
      sizeBytes: null,
      checkedAt: NOW,
      message: fresh.message,
    });
    const bad = failedResult(target, { state: 'host_key_mismatch', message: 'key changed' }, null, NOW);
    expect(toBackupStatus(bad)).toMatchObject({ state: 'error', message: 'host_key_mismatch: key changed' });
  });
});

describe('parseBackupMap', () => {
  it('parses site=/path pairs, trimming spaces and trailing slashes', () => {
    const r = parseBackupMap(' blog=/volume1/backups/blog-www/ , shop=/volume2/shop,');
    expect(r).toEqual({
      ok: true,
      value: new Map([
        ['blog', '/volume1/backups/blog-www'],
        ['shop', '/volume2/shop'],
      ]),
    });
  });

  it('accepts an empty map', () => {
    expect(parseBackupMap('')).toEqual({ ok: true, value: new Map() });
  });

  it('reports every bad pair at once', () => {
    const r = parseBackupMap('blog,Shop=/x,wiki=relative/path,docs=/a/../etc,blog2=/ok,blog2=/again');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toHaveLength(5);
    expect(r.error[0]).toContain('"blog" is not site=/path');
    expect(r.error[1]).toContain('"Shop" is not a site name');
    expect(r.error[2]).toContain('wiki');
    expect(r.error[3]).toContain('docs');
    expect(r.error[4]).toContain('blog2 is mapped twice');
  });
});

describe('backupPathFor', () => {
  const map = new Map([['blog', '/volume1/backups/blog-www']]);
  it('uses the map first, else ROOT/site', () => {
    expect(backupPathFor('blog', '/volume1/backups', map)).toBe('/volume1/backups/blog-www');
    expect(backupPathFor('shop', '/volume1/backups/', map)).toBe('/volume1/backups/shop');
  });
});

describe('formatFingerprint', () => {
  it('prints SHA256:<unpadded base64> like ssh-keygen -lf', () => {
    const digest = createHash('sha256').update('key').digest('base64');
    expect(digest.endsWith('=')).toBe(true);
    const fp = formatFingerprint(digest);
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fp).toBe(`SHA256:${digest.slice(0, 43)}`);
  });
});
