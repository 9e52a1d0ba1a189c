/**
 * Aggregates the JSON progress messages of an image pull (one per layer event, as parsed by
 * docker-modem's followProgress) into bytes done/total over all layers of the image.
 */
import type { PullProgress } from '../core/engine.js';

/** One message of the pull stream (`POST /images/create`). */
export interface PullMessage {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

interface Layer {
  current: number;
  total: number;
  /** Bytes extracted so far (`Extracting` progress). */
  extracted: number;
  done: boolean;
}

/** Statuses after which a layer's download is over. */
const DONE = new Set([
  'Download complete',
  'Pull complete',
  'Already exists',
  'Extracting',
  'Verifying Checksum',
]);

/** Folds pull messages into aggregated progress, the digest and whether anything was new. */
export class PullTracker {
  private readonly layers = new Map<string, Layer>();
  private lastStatus = '';
  /** `sha256:...` from the `Digest:` message. */
  digest: string | null = null;
  /** True once a newer image was downloaded (false for `Image is up to date`). */
  updated = false;

  constructor(readonly ref: string) {}

  /** Applies one message; returns the new progress, or throws its error text if it is an error. */
  apply(m: PullMessage): PullProgress {
    if (m.error || m.errorDetail?.message) throw new Error(m.errorDetail?.message ?? m.error);
    const status = m.status ?? '';
    const digest = /^Digest: (sha256:[a-f0-9]{64})/.exec(status);
    if (digest) this.digest = digest[1]!;
    if (status.startsWith('Status: Downloaded newer image')) this.updated = true;
    if (m.id && isLayerId(m.id) && status) {
      const l = this.layers.get(m.id) ?? { current: 0, total: 0, extracted: 0, done: false };
      this.layers.set(m.id, l);
      if (status === 'Downloading') {
        if (m.progressDetail?.total) l.total = m.progressDetail.total;
        if (m.progressDetail?.current !== undefined) l.current = m.progressDetail.current;
      } else if (DONE.has(status)) {
        l.current = l.total;
        if (status === 'Extracting' && m.progressDetail?.current !== undefined)
          l.extracted = Math.max(l.extracted, m.progressDetail.current);
        if (status !== 'Extracting' && status !== 'Verifying Checksum') l.done = true;
        if (status === 'Download complete' || status === 'Pull complete') this.updated = true;
      }
    }
    if (status) this.lastStatus = status;
    return this.progress();
  }

  /** The aggregated progress so far. */
  progress(): PullProgress {
    let bytesDone = 0;
    let bytesTotal = 0;
    let layersDone = 0;
    let bytesExtracted = 0;
    for (const l of this.layers.values()) {
      bytesExtracted += l.extracted;
      if (l.total > 0) {
        bytesDone += Math.min(l.current, l.total);
        bytesTotal += l.total;
      }
      if (l.done) layersDone++;
    }
    return {
      ref: this.ref,
      status: this.lastStatus,
      layers: this.layers.size,
      layersDone,
      bytesDone,
      bytesTotal,
      bytesExtracted,
    };
  }
}

/** Layer messages carry a short hex id; others carry the tag (`1`, `latest`) as id. */
function isLayerId(id: string): boolean {
  return /^[a-f0-9]{12,64}$/.test(id);
}
