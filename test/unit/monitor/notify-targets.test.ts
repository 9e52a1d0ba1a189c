import { describe, expect, it } from 'vitest';
import { parseNtfyUrl, parseWebhookUrls } from '../../../src/core/notify-targets.js';
import { ntfyMessage } from '../../../src/notify/ntfy-alert-channel.js';
import { webhookSignature } from '../../../src/notify/webhook-alert-channel.js';

describe('notification targets', () => {
  it('parses NOTIFY_WEBHOOK_URLS: name=url or bare urls numbered by position', () => {
    expect(parseWebhookUrls('ops=https://a.example/x, https://b.example/y?k=v')).toEqual({
      ok: true,
      value: [
        { name: 'ops', url: 'https://a.example/x' },
        { name: '2', url: 'https://b.example/y?k=v' },
      ],
    });
    const bad = parseWebhookUrls('ops=https://a.example, ops=https://b.example, x=file:///etc/passwd');
    expect(bad.ok ? [] : bad.error).toEqual([
      'entry 2: the name "ops" is used twice',
      'entry 3 (x): expected an http:// or https:// URL',
    ]);
  });

  it('splits an ntfy topic URL into the root (JSON is published there) and the topic', () => {
    expect(parseNtfyUrl('https://ntfy.sh/my-alerts')).toEqual({
      root: 'https://ntfy.sh/',
      topic: 'my-alerts',
    });
    expect(parseNtfyUrl('http://127.0.0.1:8080/sub/t_1')).toEqual({
      root: 'http://127.0.0.1:8080/sub/',
      topic: 't_1',
    });
    expect(parseNtfyUrl('https://ntfy.sh/')).toBeNull();
    expect(parseNtfyUrl('https://ntfy.sh/a b')).toBeNull();
  });

  it('ntfy priority from severity; the signature is the HMAC of the raw body', () => {
    const a = {
      id: 'al_1',
      kind: 'site' as const,
      key: 'k',
      severity: 'warning' as const,
      status: 'open' as const,
      host: 'local',
      site: 'blog',
      title: 'blog is degraded',
      lines: [],
      silenced: false,
      parentId: null,
      openedAt: 1,
      updatedAt: 1,
      resolvedAt: null,
      ackedBy: null,
      remindedAt: 1,
      announced: true,
    };
    expect(ntfyMessage(a, 't', null)).toMatchObject({
      priority: 4,
      tags: ['warning', 'host-local', 'site-blog'],
    });
    expect(ntfyMessage(a, 't', null).actions).toBeUndefined();
    expect(ntfyMessage({ ...a, status: 'resolved' }, 't', 'https://s.example').priority).toBe(3);
    // RFC 4231 test case 2.
    expect(webhookSignature('Jefe', 'what do ya want for nothing?')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});
