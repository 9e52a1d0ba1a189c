import { describe, expect, it } from 'vitest';
import { pullWithStallGuard } from '../../../src/actions/pull-site.js';
import type { Engine, PullProgress } from '../../../src/core/engine.js';
import type { ActionIO } from '../../../src/core/runs.js';
import { PullTracker } from '../../../src/docker/pull-tracker.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function io(): ActionIO {
  return { signal: new AbortController().signal, line() {}, progress() {}, logger: silent };
}

/**
 * An engine whose pull replays docker's messages through the real PullTracker: the download
 * finishes at once, then one big layer extracts in `steps` steps, `everyMs` apart.
 */
function extractingEngine(steps: number, everyMs: number): Engine {
  return {
    name: 'local',
    async pullImage(
      ref: string,
      opts: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void } = {},
    ) {
      const t = new PullTracker(ref);
      const emit = (m: Parameters<PullTracker['apply']>[0]) => opts.onProgress?.(t.apply(m));
      emit({ status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 100, total: 100 } });
      emit({ status: 'Download complete', id: 'aaaaaaaaaaaa' });
      for (let i = 1; i <= steps; i++) {
        await new Promise((r) => setTimeout(r, everyMs));
        if (opts.signal?.aborted) throw new Error('aborted');
        emit({
          status: 'Extracting',
          id: 'aaaaaaaaaaaa',
          progressDetail: { current: i * 10, total: steps * 10 },
        });
      }
      emit({ status: 'Pull complete', id: 'aaaaaaaaaaaa' });
      return { ref, digest: null, updated: true };
    },
  } as unknown as Engine;
}

describe('pull stall guard', () => {
  it('does not call a pull stalled while a layer is still extracting', async () => {
    // Extraction takes 8 x 50 ms, far beyond the 200 ms stall limit, but moves every 50 ms.
    const r = await pullWithStallGuard(extractingEngine(8, 50), 'r/x:1', io(), 200);
    expect(r.updated).toBe(true);
  });

  it('still fails a pull that does not move at all', async () => {
    await expect(pullWithStallGuard(extractingEngine(1, 500), 'r/x:1', io(), 100)).rejects.toMatchObject({
      code: 'DOCKER_PULL_STALLED',
    });
  });
});
