/**
 * Caddy: writes and removes per-site snippets in CADDY_SITES_DIR and reloads Caddy, either
 * through the admin API (`caddy adapt --validate` of the main Caddyfile, then POST /load)
 * or through a configured reload command. Caddy applies a /load atomically: a refused
 * config leaves the running one untouched. On an ssh:// host all of it happens there, through
 * its HostAccess: the snippet over SFTP, `caddy adapt` by exec, the admin API (on that host's
 * loopback) through a port forward of the SSH connection.
 */
import { join } from 'node:path';
import { SiteFlowError } from '../core/errors.js';
import { type HostAccess, localAccess } from './host-access.js';

/** How SiteFlow reaches Caddy. */
export interface CaddyOptions {
  sitesDir: string;
  /** Main Caddyfile, for the admin-API mode. */
  caddyfile: string | null;
  adminUrl: string | null;
  /** Program and arguments that validate and reload Caddy; replaces the admin API when set. */
  reloadCommand: readonly string[] | null;
  bin: string;
  timeoutMs?: number;
  /** The host Caddy runs on (default this machine). */
  access?: HostAccess;
}

/** Per-site snippets and reloads. */
export interface Caddy {
  readonly sitesDir: string;
  snippetPath(site: string): string;
  writeSnippet(site: string, content: string): Promise<string>;
  removeSnippet(site: string): Promise<boolean>;
  /** Validates and applies the whole config; throws CADDY_RELOAD_FAILED with Caddy's reason. */
  reload(opts?: { signal?: AbortSignal }): Promise<string>;
}

/** Caddy on this machine (CLI for adapt, HTTP for the admin API). */
export class CaddyReloader implements Caddy {
  private readonly access: HostAccess;

  constructor(private readonly o: CaddyOptions) {
    this.access = o.access ?? localAccess();
  }

  get sitesDir(): string {
    return this.o.sitesDir;
  }

  snippetPath(site: string): string {
    return join(this.o.sitesDir, `${site}.caddy`);
  }

  async writeSnippet(site: string, content: string): Promise<string> {
    const p = this.snippetPath(site);
    // Exclusive: never overwrite a snippet SiteFlow did not just create.
    await this.access.fs.writeFile(p, content, { exclusive: true, mode: 0o644 });
    return p;
  }

  async removeSnippet(site: string): Promise<boolean> {
    const p = this.snippetPath(site);
    if (!(await this.access.fs.exists(p))) return false;
    await this.access.fs.rm(p);
    return true;
  }

  async reload(opts: { signal?: AbortSignal } = {}): Promise<string> {
    const timeoutMs = this.o.timeoutMs ?? 30_000;
    const fail = (why: string): never => {
      throw new SiteFlowError('CADDY_RELOAD_FAILED', `Caddy refused the configuration: ${why}`);
    };
    if (this.o.reloadCommand?.length) {
      const [cmd, ...args] = this.o.reloadCommand;
      const r = await this.access.run(cmd!, args, { timeoutMs, allowFailure: true, ...opts });
      if (r.code !== 0) fail(lastLines(r.stderr || r.stdout) || `exit code ${r.code}`);
      return `reloaded with ${this.o.reloadCommand.join(' ')}`;
    }
    if (!this.o.caddyfile || !this.o.adminUrl)
      throw new SiteFlowError(
        'CADDY_NOT_CONFIGURED',
        'set CADDYFILE and CADDY_ADMIN_URL, or CADDY_RELOAD_COMMAND, to let SiteFlow reload Caddy',
      );
    const adapted = await this.access.run(
      this.o.bin,
      ['adapt', '--config', this.o.caddyfile, '--adapter', 'caddyfile', '--validate'],
      { timeoutMs, allowFailure: true, ...opts },
    );
    if (adapted.code !== 0) fail(lastLines(adapted.stderr) || `caddy adapt exited with ${adapted.code}`);
    const at = `${this.o.adminUrl}${this.access.on}${this.access.on ? ' (through its SSH connection)' : ''}`;
    let res: Awaited<ReturnType<HostAccess['fetch']>>;
    try {
      res = await this.access.fetch(`${this.o.adminUrl.replace(/\/+$/, '')}/load`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: adapted.stdout,
        signal: opts.signal
          ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)])
          : AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new SiteFlowError(
        'CADDY_UNREACHABLE',
        `Caddy's admin API at ${at} does not answer: ${(e as Error).message}`,
      );
    }
    if (!res.ok) {
      const body = await res.text().catch(() => '');
      let msg = body;
      try {
        msg = (JSON.parse(body) as { error?: string }).error ?? body;
      } catch {
        // plain text
      }
      fail(`HTTP ${res.status}: ${lastLines(msg)}`);
    }
    return `loaded through the admin API at ${at}`;
  }
}

function lastLines(s: string): string {
  return s.trim().split('\n').slice(-3).join(' ').slice(0, 500);
}
