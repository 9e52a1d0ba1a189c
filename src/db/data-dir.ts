/**
 * The data folder: created 0700, its database files 0600, and held by one SiteFlow at a time.
 * The lock is a file holding the owner's pid, created exclusively; it is removed on any exit of
 * the process (and by `release`). A lock whose pid no longer runs is stale and taken over.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SiteFlowError } from '../core/errors.js';

/** Name of the lock file in DATA_DIR. */
export const LOCK_FILE = 'siteflow.lock';

/** Lock files held by this process (several SiteFlows may run in one test process). */
const held = new Set<string>();
let exitHook = false;

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/** A held DATA_DIR lock. */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/**
 * Creates DATA_DIR (0700), makes the database and its WAL/SHM files 0600 (SQLite gives the WAL
 * the database file's mode, so creating the file first is enough), and takes the lock; throws
 * DATA_DIR_LOCKED naming the running instance's pid.
 */
export function lockDataDir(dir: string, dbFile = 'siteflow.db'): DataDirLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dir, 0o700);
  } catch {
    // Not ours to change (a mounted volume): leave it.
  }
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST' || attempt > 2) throw e;
      const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if ((pid !== process.pid && alive(pid)) || (pid === process.pid && held.has(path)))
        throw new SiteFlowError(
          'DATA_DIR_LOCKED',
          `another SiteFlow (pid ${pid}) is already running on DATA_DIR ${dir}; stop it first, or give this one its own DATA_DIR`,
          { pid },
        );
      unlinkSync(path); // stale: its process is gone
    }
  }
  held.add(path);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const p of held) removeIfOurs(p);
    });
  }
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) {
    const file = join(dir, f);
    try {
      closeSync(openSync(file, f === dbFile ? 'a' : 'r+', 0o600));
      chmodSync(file, 0o600);
    } catch {
      // The WAL and SHM appear later, with the database file's mode.
    }
  }
  return {
    path,
    release() {
      if (held.delete(path)) removeIfOurs(path);
    },
  };
}

function removeIfOurs(path: string): void {
  try {
    if (Number.parseInt(readFileSync(path, 'utf8').trim(), 10) === process.pid) unlinkSync(path);
  } catch {
    // Already gone.
  }
}
