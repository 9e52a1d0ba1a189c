/**
 * The Handlebars templates of the status page: pages in views/pages, partials in
 * views/partials (the layout is the `layout` partial, used as a partial block, so no template
 * ever needs a triple-stash), compiled once into an isolated Handlebars environment. Every
 * value goes through `{{ }}` and is HTML-escaped.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { SiteFlowError } from '../core/errors.js';

/** Finds the `views/` folder by walking up from this module (src/web under tsx, dist/src/web built). */
export function findViewsFolder(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'views');
    if (existsSync(join(candidate, 'pages'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new SiteFlowError('WEB_NO_VIEWS', `no views/pages folder found above ${from}`);
}

/** Compiled pages and partials. */
export class Templates {
  private readonly hbs = Handlebars.create();
  private readonly pages = new Map<string, Handlebars.TemplateDelegate>();
  private readonly partials = new Map<string, Handlebars.TemplateDelegate>();

  constructor(readonly dir: string = findViewsFolder()) {
    const h = this.hbs;
    h.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    h.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
    h.registerHelper('pct', (v: number) => `${Math.round((Number(v) || 0) * 100)}`);
    h.registerHelper('fixed', (v: number) => (Number(v) || 0).toFixed(1));
    h.registerHelper('plural', (n: number, word: string) => `${n} ${word}${Number(n) === 1 ? '' : 's'}`);
    for (const f of readdirSync(join(dir, 'partials'))) {
      if (!f.endsWith('.hbs')) continue;
      const name = f.slice(0, -4);
      const src = readFileSync(join(dir, 'partials', f), 'utf8');
      h.registerPartial(name, src);
      this.partials.set(name, h.compile(src, { strict: false, preventIndent: true }));
    }
    for (const f of readdirSync(join(dir, 'pages'))) {
      if (!f.endsWith('.hbs')) continue;
      this.pages.set(
        f.slice(0, -4),
        h.compile(readFileSync(join(dir, 'pages', f), 'utf8'), { preventIndent: true }),
      );
    }
  }

  /** Renders a page. */
  page(name: string, ctx: object): string {
    const t = this.pages.get(name);
    if (!t) throw new SiteFlowError('WEB_NO_TEMPLATE', `no page ${name}`);
    return t(ctx);
  }

  /** Renders a partial on its own (for live fragments). */
  partial(name: string, ctx: object): string {
    const t = this.partials.get(name);
    if (!t) throw new SiteFlowError('WEB_NO_TEMPLATE', `no partial ${name}`);
    return t(ctx);
  }
}
