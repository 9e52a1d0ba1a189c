import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DiskStatus, DiskWatch } from '../../../src/db/disk-watch.js';
import { testLogger } from '../../support/siteflow.js';

const MB = 1024 * 1024;
let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('DiskWatch', () => {
  it('keeps a reserve while there is room; a failed write is one change to not ok, recovery one back', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sf-disk-'));
    const changes: DiskStatus[] = [];
    const w = new DiskWatch({
      dir,
      minFreeBytes: 1,
      logger: testLogger(),
      reserveBytes: MB,
      onChange: (s) => changes.push(s),
    });
    await w.check();
    expect(w.status().ok).toBe(true);
    expect(w.status().freeBytes).toBeGreaterThan(0);
    expect(existsSync(join(dir, '.siteflow-reserve'))).toBe(true);
    w.writeFailed('the database');
    w.writeFailed('run log x');
    await w.check();
    expect(w.status().ok).toBe(false);
    expect(w.status().note).toMatch(/writing the database failed/);
    // The reserve makes room for the database while someone frees space.
    expect(existsSync(join(dir, '.siteflow-reserve'))).toBe(false);
    w.writesRecovered();
    await w.check();
    expect(w.status().ok).toBe(true);
    expect(changes.map((c) => c.ok)).toEqual([false, true]);
  });

  it('is not ok below the minimum free space', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sf-disk-'));
    const w = new DiskWatch({
      dir,
      minFreeBytes: Number.MAX_SAFE_INTEGER,
      logger: testLogger(),
      reserveBytes: 0,
    });
    await w.check();
    expect(w.status().ok).toBe(false);
    expect(w.status().note).toMatch(/MB free in .* \(the minimum is/);
  });
});
