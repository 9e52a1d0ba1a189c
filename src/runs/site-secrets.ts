/**
 * Feeds the secret masker from the managed sites' `.env` files (their project folders, as the
 * live state knows them). Read before every run, with an mtime cache, so a changed password is
 * masked from the next run on; a site that is gone drops its values.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../core/errors.js';
import type { LiveState } from '../core/live-state.js';
import type { Logger } from '../core/ports.js';
import { envSecrets, type SecretMasker } from '../core/secret-mask.js';

/** Keeps the masker's `site:*` sources in step with the sites' `.env` files. */
export class SiteEnvSecrets {
  private readonly seen = new Map<string, { mtimeMs: number; size: number }>();

  constructor(
    private readonly o: {
      masker: SecretMasker;
      state: LiveState;
      logger: Logger;
      /** SITES_ROOT: a site without a known project folder is looked for here. */
      sitesRoot: string | null;
    },
  ) {}

  /** Reads the `.env` of every site the live state knows (unchanged files are skipped). */
  async refresh(): Promise<void> {
    const dirs = new Map<string, string>();
    for (const h of this.o.state.snapshot().hosts)
      for (const s of h.sites) {
        const dir = s.projectDir ?? (this.o.sitesRoot ? join(this.o.sitesRoot, s.name) : null);
        if (dir) dirs.set(join(dir, '.env'), `site:${s.key}`);
      }
    await Promise.all([...dirs].map(([file, source]) => this.read(file, source)));
    for (const file of [...this.seen.keys()])
      if (!dirs.has(file)) {
        this.seen.delete(file);
        this.o.masker.set(this.sourceOf(file), []);
      }
  }

  private readonly sources = new Map<string, string>();

  private sourceOf(file: string): string {
    return this.sources.get(file) ?? `file:${file}`;
  }

  private async read(file: string, source: string): Promise<void> {
    this.sources.set(file, source);
    try {
      const st = await stat(file);
      const before = this.seen.get(file);
      if (before && before.mtimeMs === st.mtimeMs && before.size === st.size) return;
      const text = await readFile(file, 'utf8');
      this.seen.set(file, { mtimeMs: st.mtimeMs, size: st.size });
      this.o.masker.set(source, envSecrets(text));
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        this.o.logger.warn({ file, err: describeError(e) }, 'could not read a site .env for masking');
      if (this.seen.delete(file) || code === 'ENOENT') this.o.masker.set(source, []);
    }
  }
}
