/**
 * Receivers of the notification channels on loopback: a webhook receiver (records every
 * request with its raw body and headers; can be told to answer an error N times), a
 * recording stand-in for an ntfy server that checks the documented publish-as-JSON format
 * (https://docs.ntfy.sh/publish/#publish-as-json: POST to the root URL, `topic` required,
 * `priority` 1-5, `tags` a list, `actions` of type view with label and url) and answers 400
 * otherwise, and a real SMTP server (Debian's python3-aiosmtpd, messages written to a Maildir).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../env/harness.js';
import { readRaw } from './fake-http.js';

/** One request a receiver got. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
  /** The status it was answered with. */
  status: number;
}

/** An HTTP receiver on 127.0.0.1 with a free port. */
abstract class Recorder {
  readonly requests: Received[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const raw = (await readRaw(req)).toString('utf8');
      const status = this.answer(req, raw);
      this.requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        raw,
        status,
      });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status < 300 ? '{"ok":true}' : '{"error":"refused"}');
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
    this.server?.closeAllConnections();
  }

  protected abstract answer(req: IncomingMessage, raw: string): number;
}

/** A webhook receiver; `failNext(n, status)` answers the next n requests with `status`. */
export class WebhookReceiver extends Recorder {
  private failures: number[] = [];

  failNext(n: number, status: number): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  /** Parsed bodies of the requests answered 2xx. */
  accepted(): Array<Received & { body: Record<string, unknown> }> {
    return this.requests.filter((r) => r.status < 300).map((r) => ({ ...r, body: JSON.parse(r.raw) }));
  }

  protected answer(): number {
    return this.failures.shift() ?? 204;
  }
}

/** Recording stand-in for an ntfy server (not the real ntfy: Debian does not package it). */
export class NtfyStandIn extends Recorder {
  /** Why requests were refused (the format check). */
  readonly problems: string[] = [];
  constructor(
    private readonly topic: string,
    private readonly token: string,
  ) {
    super();
  }

  /** Published messages that passed the check. */
  published(): Array<Record<string, unknown>> {
    return this.requests.filter((r) => r.status === 200).map((r) => JSON.parse(r.raw));
  }

  protected answer(req: IncomingMessage, raw: string): number {
    const problems: string[] = [];
    if (req.method !== 'POST' && req.method !== 'PUT') problems.push(`method ${req.method}`);
    if (req.url !== '/') problems.push(`JSON must go to the root URL, not ${req.url}`);
    if (this.token && req.headers.authorization !== `Bearer ${this.token}`) problems.push('bad token');
    let m: Record<string, unknown> = {};
    try {
      m = JSON.parse(raw);
    } catch {
      problems.push('not JSON');
    }
    if (m.topic !== this.topic) problems.push(`topic ${String(m.topic)}`);
    if (typeof m.title !== 'string' || !m.title) problems.push('no title');
    if (typeof m.message !== 'string') problems.push('no message');
    if (!(typeof m.priority === 'number' && m.priority >= 1 && m.priority <= 5))
      problems.push('bad priority');
    if (m.tags !== undefined && !(Array.isArray(m.tags) && m.tags.every((t) => typeof t === 'string')))
      problems.push('tags not a list of strings');
    if (m.actions !== undefined) {
      const ok =
        Array.isArray(m.actions) &&
        m.actions.length <= 3 &&
        m.actions.every(
          (a: Record<string, unknown>) =>
            a.action === 'view' && typeof a.label === 'string' && typeof a.url === 'string',
        );
      if (!ok) problems.push('bad actions');
    }
    this.problems.push(...problems);
    return problems.length ? 400 : 200;
  }
}

/** One mail the SMTP server stored. */
export interface StoredMail {
  headers: Record<string, string>;
  body: string;
}

/** A real SMTP server on loopback: `python3 -m aiosmtpd` with its Maildir handler. */
export class SmtpServer {
  private proc: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'sf-smtp-'));
  port = 0;
  private stderr = '';

  static available(): boolean {
    return existsSync('/usr/lib/python3/dist-packages/aiosmtpd');
  }

  async start(): Promise<this> {
    this.port = await freePort();
    const maildir = join(this.dir, 'mail');
    // Debian's python3 (the package lives there), not whatever python3 comes first on PATH.
    this.proc = spawn(
      '/usr/bin/python3',
      ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${this.port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.proc.stderr?.on('data', (d) => {
      this.stderr += String(d);
    });
    await waitFor(
      `aiosmtpd on ${this.port}${this.stderr ? `: ${this.stderr}` : ''}`,
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(this.port, '127.0.0.1', () => {
            s.end();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      15_000,
    );
    return this;
  }

  /** Mails received so far, oldest first. */
  mails(): StoredMail[] {
    const out: Array<StoredMail & { at: number; name: string }> = [];
    for (const sub of ['new', 'cur']) {
      const d = join(this.dir, 'mail', sub);
      if (!existsSync(d)) continue;
      for (const name of readdirSync(d)) {
        const text = readFileSync(join(d, name), 'utf8');
        const split = text.indexOf('\n\n');
        const headers: Record<string, string> = {};
        let last = '';
        for (const line of text.slice(0, split).split('\n')) {
          if (/^\s/.test(line) && last) headers[last] += ` ${line.trim()}`;
          else {
            const i = line.indexOf(':');
            last = line.slice(0, i).toLowerCase();
            headers[last] = line.slice(i + 1).trim();
          }
        }
        out.push({ headers, body: text.slice(split + 2), at: Number(name.split('.')[0]), name });
      }
    }
    return out.sort((a, b) => a.at - b.at || a.name.localeCompare(b.name));
  }

  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc!.once('exit', r));
      this.proc.kill('SIGTERM');
      await done;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
