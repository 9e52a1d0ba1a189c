/**
 * One check of one URL with node:http/node:https: a fresh connection (no keep-alive, so every
 * check sees the certificate), a deadline over the whole exchange, redirects followed up to 5
 * times and only on the same host, the body read up to 1 MiB for the keyword. Requests go only
 * to the URL given (and its same-host redirects); nothing else is ever contacted.
 */
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { rootCertificates } from 'node:tls';
import {
  type CertificateInfo,
  judgeAnswer,
  type UrlCheckResult,
  type UrlTarget,
} from '../core/url-checks.js';

/** Options of {@link probeUrl}. */
export interface ProbeOptions {
  timeoutMs: number;
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots. */
  ca?: string | null;
  now?: () => number;
}

const MAX_REDIRECTS = 5;
const MAX_BODY = 1024 * 1024;

interface Answer {
  status: number;
  location: string | null;
  body: string;
  certificate: CertificateInfo | null;
}

/** Checks one URL; never throws (a failure is a result with its reason). */
export async function probeUrl(target: UrlTarget, opts: ProbeOptions): Promise<UrlCheckResult> {
  const now = opts.now ?? Date.now;
  const at = now();
  const started = performance.now();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs);
  const ca = opts.ca ? [...rootCertificates, opts.ca] : undefined;
  let certificate: CertificateInfo | null = null;
  const result = (ok: boolean, status: number | null, error: string | null, latency = true) => ({
    url: target.url,
    ok,
    status,
    latencyMs: latency ? Math.round((performance.now() - started) * 10) / 10 : null,
    error,
    at,
    certificate,
  });
  try {
    let url = new URL(target.url);
    for (let hop = 0; ; hop++) {
      const a = await request(url, ca, ac.signal);
      certificate ??= a.certificate;
      if (a.status >= 300 && a.status < 400 && a.location !== null) {
        let next: URL;
        try {
          next = new URL(a.location, url);
        } catch {
          return result(false, a.status, `redirects to an invalid location`);
        }
        if (next.hostname !== url.hostname || (next.protocol !== 'http:' && next.protocol !== 'https:'))
          return result(
            false,
            a.status,
            `redirects to another host (${next.hostname.slice(0, 80)}), not followed`,
          );
        if (hop + 1 > MAX_REDIRECTS) return result(false, a.status, `more than ${MAX_REDIRECTS} redirects`);
        url = next;
        continue;
      }
      const why = judgeAnswer(target, a.status, a.body);
      return result(why === null, a.status, why);
    }
  } catch (e) {
    if (ac.signal.aborted) return result(false, null, `no answer within ${opts.timeoutMs / 1000} s`, false);
    return result(false, null, reasonOf(e), false);
  } finally {
    clearTimeout(timer);
  }
}

function request(url: URL, ca: string[] | undefined, signal: AbortSignal): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const options: https.RequestOptions = {
      method: 'GET',
      agent: false,
      signal,
      lookup: specialUseLookup as unknown as https.RequestOptions['lookup'],
      headers: { 'user-agent': 'SiteFlow-check/1', accept: 'text/html,*/*' },
      ...(secure ? { rejectUnauthorized: true, ...(ca ? { ca } : {}) } : {}),
    };
    const req = (secure ? https : http).request(url, options, (res) => {
      const certificate = secure ? certOf(res.socket as TLSSocket, url.hostname) : null;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size >= MAX_BODY) return;
        chunks.push(c);
        size += c.length;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          location: typeof res.headers.location === 'string' ? res.headers.location : null,
          body: Buffer.concat(chunks).toString('utf8'),
          certificate,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Name lookup with the special-use names of RFC 6761 (https://www.rfc-editor.org/rfc/rfc6761#section-6.3):
 * `localhost` and `*.localhost` are loopback without asking DNS, `*.invalid` never resolves.
 * Everything else goes to the system resolver.
 */
export function specialUseLookup(
  hostname: string,
  options: LookupOptions,
  cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name === 'invalid' || name.endsWith('.invalid')) {
    const e: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
    e.code = 'ENOTFOUND';
    process.nextTick(cb, e, '', 0);
    return;
  }
  if (name === 'localhost' || name.endsWith('.localhost')) {
    if (options.all) process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
    else process.nextTick(cb, null, '127.0.0.1', 4);
    return;
  }
  dns.lookup(hostname, options, cb as never);
}

function certOf(socket: TLSSocket, host: string): CertificateInfo | null {
  const c = socket.getPeerCertificate?.();
  if (!c?.valid_to) return null;
  const validTo = Date.parse(c.valid_to);
  if (!Number.isFinite(validTo)) return null;
  const issuer = c.issuer ? (c.issuer.O ?? c.issuer.CN ?? 'unknown') : 'unknown';
  return { domain: host, validTo, issuer: String(issuer).slice(0, 200) };
}

const TLS_UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

/** A short reason for a failed request (no stack, no secrets: URLs here carry none). */
function reasonOf(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { reason?: string };
  const code = err?.code ?? '';
  if (TLS_UNTRUSTED.has(code)) return `certificate not trusted (${code})`;
  if (code === 'CERT_HAS_EXPIRED') return 'certificate has expired';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'certificate is for another name';
  if (code.startsWith('CERT_') || code.startsWith('ERR_TLS')) return `certificate invalid (${code})`;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'name does not resolve';
  if (code === 'ECONNRESET') return 'connection reset';
  return `request failed (${code || String(err?.message ?? e).slice(0, 120)})`;
}
