import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTool } from '../../../src/provision/run-tool.js';

const dir = mkdtempSync(join(tmpdir(), 'siteflow-run-tool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** True while `pid` is a live (not zombie) process. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

describe('runTool', () => {
  it('runs with an argument array and returns the output', async () => {
    const r = await runTool('sh', ['-c', 'echo "$1"', 'sh', 'a b; c']);
    expect(r).toEqual({ code: 0, stdout: 'a b; c\n', stderr: '' });
  });

  it('a cancel kills the whole process group, not only the direct child', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const ac = new AbortController();
    const run = runTool('sh', ['-c', 'sleep 300 >/dev/null 2>&1 & echo $! > "$1"; wait', 'sh', pidFile], {
      signal: ac.signal,
    });
    run.catch(() => {});
    expect(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '')).toBe(true);
    const grandchild = Number(readFileSync(pidFile, 'utf8').trim());
    expect(alive(grandchild)).toBe(true);
    ac.abort();
    await expect(run).rejects.toMatchObject({
      code: 'PROVISION_TOOL',
      message: expect.stringMatching(/cancelled/),
    });
    expect(await until(() => !alive(grandchild))).toBe(true);
  });

  it('does not start work when the signal is already aborted', async () => {
    const marker = join(dir, 'ran');
    const ac = new AbortController();
    ac.abort();
    await expect(
      runTool('sh', ['-c', 'sleep 1; touch "$1"', 'sh', marker], { signal: ac.signal }),
    ).rejects.toMatchObject({
      code: 'PROVISION_TOOL',
    });
    expect(existsSync(marker)).toBe(false);
  });
});
