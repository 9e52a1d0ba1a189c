import { describe, expect, it } from 'vitest';
import { statsFrom } from '../../../src/docker/container-stats.js';
import { toEvent } from '../../../src/docker/dockerode-engine.js';
import { LogDemuxer } from '../../../src/docker/log-demuxer.js';
import { PullTracker } from '../../../src/docker/pull-tracker.js';

function frame(type: number, text: string | Buffer): Buffer {
  const payload = typeof text === 'string' ? Buffer.from(text) : text;
  const h = Buffer.alloc(8);
  h.writeUInt8(type, 0);
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

describe('LogDemuxer', () => {
  it('keeps stdout/stderr interleaving and splits lines', () => {
    const d = new LogDemuxer();
    const out = [
      ...d.push(Buffer.concat([frame(1, 'a1\na2\n'), frame(2, 'e1\n'), frame(1, 'a3\n')])),
      ...d.end(),
    ];
    expect(out).toEqual([
      { stream: 'stdout', text: 'a1' },
      { stream: 'stdout', text: 'a2' },
      { stream: 'stderr', text: 'e1' },
      { stream: 'stdout', text: 'a3' },
    ]);
  });

  it('reassembles frames, lines and UTF-8 characters split across chunks', () => {
    const d = new LogDemuxer();
    const all = Buffer.concat([
      frame(1, 'hé'),
      frame(1, 'llo\nwor'),
      frame(2, '\u001b[31mred\u001b[0m\n'),
      frame(1, 'ld'),
    ]);
    const out = [];
    for (let i = 0; i < all.length; i += 3) out.push(...d.push(all.subarray(i, i + 3)));
    out.push(...d.end());
    expect(out).toEqual([
      { stream: 'stdout', text: 'héllo' },
      // Nothing is stripped: ANSI stays.
      { stream: 'stderr', text: '\u001b[31mred\u001b[0m' },
      { stream: 'stdout', text: 'world' },
    ]);
  });

  it('passes raw TTY output and falls back to raw on a non-multiplexed stream', () => {
    expect([...new LogDemuxer(true).push(Buffer.from('x\ny\n'))].map((l) => l.text)).toEqual(['x', 'y']);
    const d = new LogDemuxer();
    expect([...d.push(Buffer.from('plain text here\n')), ...d.end()]).toEqual([
      { stream: 'stdout', text: 'plain text here' },
    ]);
  });
});

describe('PullTracker', () => {
  it('aggregates bytes over layers and reads digest and outcome', () => {
    const t = new PullTracker('r/x:1');
    t.apply({ status: 'Pulling from r/x', id: '1' });
    t.apply({ status: 'Pulling fs layer', id: 'aaaaaaaaaaaa' });
    t.apply({ status: 'Pulling fs layer', id: 'bbbbbbbbbbbb' });
    let p = t.apply({
      status: 'Downloading',
      id: 'aaaaaaaaaaaa',
      progressDetail: { current: 50, total: 100 },
    });
    expect(p).toMatchObject({ layers: 2, layersDone: 0, bytesDone: 50, bytesTotal: 100 });
    p = t.apply({ status: 'Downloading', id: 'bbbbbbbbbbbb', progressDetail: { current: 10, total: 300 } });
    expect(p).toMatchObject({ bytesDone: 60, bytesTotal: 400, status: 'Downloading' });
    t.apply({ status: 'Download complete', id: 'aaaaaaaaaaaa' });
    p = t.apply({ status: 'Pull complete', id: 'bbbbbbbbbbbb' });
    expect(p).toMatchObject({ layers: 2, layersDone: 2, bytesDone: 400, bytesTotal: 400 });
    t.apply({ status: `Digest: sha256:${'f'.repeat(64)}` });
    t.apply({ status: 'Status: Downloaded newer image for r/x:1' });
    expect([t.digest, t.updated]).toEqual([`sha256:${'f'.repeat(64)}`, true]);
  });

  it('counts extraction progress, which follows the download', () => {
    const t = new PullTracker('r/x:1');
    t.apply({ status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 100, total: 100 } });
    t.apply({ status: 'Download complete', id: 'aaaaaaaaaaaa' });
    let p = t.apply({
      status: 'Extracting',
      id: 'aaaaaaaaaaaa',
      progressDetail: { current: 40, total: 100 },
    });
    expect(p).toMatchObject({ bytesDone: 100, bytesExtracted: 40, layersDone: 1, status: 'Extracting' });
    p = t.apply({ status: 'Extracting', id: 'aaaaaaaaaaaa', progressDetail: { current: 90, total: 100 } });
    expect(p.bytesExtracted).toBe(90);
  });

  it('knows an up-to-date pull and throws stream errors', () => {
    const t = new PullTracker('r/x:1');
    t.apply({ status: 'Already exists', id: 'cccccccccccc' });
    t.apply({ status: 'Status: Image is up to date for r/x:1' });
    expect(t.updated).toBe(false);
    expect(t.progress()).toMatchObject({ layers: 1, layersDone: 1 });
    expect(() =>
      t.apply({ error: 'manifest unknown', errorDetail: { message: 'manifest unknown' } }),
    ).toThrow('manifest unknown');
  });
});

describe('statsFrom', () => {
  it('computes CPU% like the docker CLI and excludes inactive file cache', () => {
    const s = statsFrom({
      read: '2026-01-01T00:00:00Z',
      cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 1_000 }, system_cpu_usage: 10_000 },
      memory_stats: { usage: 1_000, limit: 4_000, stats: { inactive_file: 200 } },
    });
    expect(s).toEqual({
      cpuPercent: 40,
      memoryBytes: 800,
      memoryLimitBytes: 4_000,
      memoryPercent: 20,
      at: Date.parse('2026-01-01T00:00:00Z'),
    });
  });
  it('yields zeros for a stopped container', () => {
    expect(statsFrom({ read: '0001-01-01T00:00:00Z' }, 5)).toEqual({
      cpuPercent: 0,
      memoryBytes: 0,
      memoryLimitBytes: 0,
      memoryPercent: 0,
      at: 5,
    });
  });
});

describe('toEvent', () => {
  it('maps container events and splits action details', () => {
    const e = toEvent(
      JSON.stringify({
        Type: 'container',
        Action: 'health_status: unhealthy',
        Actor: {
          ID: 'cid',
          Attributes: {
            name: 'blog-web-1',
            image: 'img',
            'com.docker.compose.project': 'blog',
            'com.docker.compose.service': 'web',
          },
        },
        time: 1700000000,
        timeNano: 1700000000123456800,
      }),
    );
    expect(e).toEqual({
      at: 1700000000123,
      action: 'health_status',
      containerId: 'cid',
      name: 'blog-web-1',
      project: 'blog',
      service: 'web',
      image: 'img',
      exitCode: null,
      health: 'unhealthy',
      signal: null,
      labels: { 'com.docker.compose.project': 'blog', 'com.docker.compose.service': 'web' },
    });
    const die = toEvent(
      JSON.stringify({
        Type: 'container',
        Action: 'die',
        Actor: { ID: 'c', Attributes: { exitCode: '137' } },
        time: 1,
      }),
    );
    expect(die).toMatchObject({ action: 'die', exitCode: 137, project: null, at: 1000 });
    const kill = (signal: string) =>
      toEvent(
        JSON.stringify({ Type: 'container', Action: 'kill', Actor: { ID: 'c', Attributes: { signal } } }),
      );
    expect(kill('15')).toMatchObject({ action: 'kill', signal: 'SIGTERM', labels: {} });
    expect(kill('9')?.signal).toBe('SIGKILL');
    expect(kill('99')?.signal).toBe('99');
    expect(toEvent(JSON.stringify({ Type: 'network', Action: 'connect' }))).toBeNull();
    expect(toEvent('not json')).toBeNull();
  });
});
