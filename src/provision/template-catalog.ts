/**
 * Site templates: one folder each with `template.json` (metadata), `compose.yml.hbs`,
 * `Caddyfile.hbs` and optional extra files. Loaded once at start: metadata is validated
 * with zod, every template is compiled and rendered with sample values, and the compose
 * output parsed as YAML, so a broken template is reported at start, not at provision time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { describeError } from '../core/errors.js';
import { renderSite, type TemplateContext } from './render-site.js';
import { type TemplateMeta, templateMetaSchema } from './template-meta.js';

/** Files every template folder has. */
export const TEMPLATE_FILES = {
  meta: 'template.json',
  compose: 'compose.yml.hbs',
  caddy: 'Caddyfile.hbs',
} as const;

/** A loaded, compiled and sample-checked template. */
export interface SiteTemplate {
  name: string;
  dir: string;
  source: 'built-in' | 'user';
  meta: TemplateMeta;
  compose(ctx: TemplateContext): string;
  caddy(ctx: TemplateContext): string;
  renderParam(
    name: string,
    ctx: Omit<TemplateContext, 'params'> & { params: Record<string, string> },
  ): string;
  files: Array<{ path: string; render(ctx: TemplateContext): string }>;
}

/** A template folder that failed to load, with every problem found. */
export interface BrokenTemplate {
  name: string;
  dir: string;
  source: 'built-in' | 'user';
  problems: string[];
}

const TEMPLATE_NAME_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** The templates shipped with SiteFlow (`templates/` at the package root). */
export function builtInTemplatesDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // src/provision -> ../../templates; dist/src/provision -> ../../../templates
  for (const up of ['../../templates', '../../../templates']) {
    const d = resolve(here, up);
    if (existsSync(d)) return d;
  }
  return resolve(here, '../../templates');
}

/** Loads and checks one template folder. */
export function loadTemplate(
  dir: string,
  source: 'built-in' | 'user',
): { ok: true; template: SiteTemplate } | { ok: false; broken: BrokenTemplate } {
  const name = dir.split('/').filter(Boolean).pop() ?? dir;
  const problems: string[] = [];
  const broken = () => ({ ok: false as const, broken: { name, dir, source, problems } });
  if (!TEMPLATE_NAME_RE.test(name)) {
    problems.push('folder name must be lowercase letters, digits and hyphens (at most 40)');
    return broken();
  }
  const read = (file: string): string | null => {
    try {
      return readFileSync(join(dir, file), 'utf8');
    } catch {
      problems.push(`missing ${file}`);
      return null;
    }
  };
  const metaText = read(TEMPLATE_FILES.meta);
  const composeText = read(TEMPLATE_FILES.compose);
  const caddyText = read(TEMPLATE_FILES.caddy);
  let meta: TemplateMeta | null = null;
  if (metaText !== null) {
    let json: unknown;
    try {
      json = JSON.parse(metaText);
    } catch (e) {
      problems.push(`${TEMPLATE_FILES.meta} is not valid JSON: ${describeError(e)}`);
    }
    if (json !== undefined) {
      const r = templateMetaSchema.safeParse(json);
      if (r.success) meta = r.data;
      else
        for (const i of r.error.issues)
          problems.push(`${TEMPLATE_FILES.meta}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    }
  }
  if (!meta || composeText === null || caddyText === null) return broken();

  const hb = Handlebars.create();
  const compile = (text: string, file: string, html: boolean) => {
    try {
      const fn = hb.compile(text, { strict: true, noEscape: !html });
      // Compilation is lazy in Handlebars: force it now so syntax errors surface at start.
      hb.precompile(text, { strict: true });
      return fn;
    } catch (e) {
      problems.push(`${file}: ${describeError(e).split('\n')[0]}`);
      return null;
    }
  };
  const compose = compile(composeText, TEMPLATE_FILES.compose, false);
  const caddy = compile(caddyText, TEMPLATE_FILES.caddy, false);
  const params = new Map<string, Handlebars.TemplateDelegate>();
  for (const p of meta.parameters) {
    if (p.value === undefined) continue;
    const fn = compile(p.value, `parameter ${p.name}`, false);
    if (fn) params.set(p.name, fn);
  }
  const files: SiteTemplate['files'] = [];
  for (const f of meta.files) {
    const text = read(f.template);
    if (text === null) continue;
    const fn = compile(text, f.template, true);
    if (fn) files.push({ path: f.path, render: (ctx) => fn(ctx) });
  }
  if (problems.length || !compose || !caddy) return broken();

  const template: SiteTemplate = {
    name,
    dir,
    source,
    meta,
    compose: (ctx) => compose(ctx),
    caddy: (ctx) => caddy(ctx),
    renderParam: (p, ctx) => params.get(p)?.(ctx) ?? '',
    files,
  };
  // A sample render catches unknown variables (strict mode), bad YAML, unknown images and
  // `${VAR}` references that are not parameters.
  for (const caddyPort of [null, 8080]) {
    try {
      renderSite(template, {
        site: 'sample-site',
        domain: 'sample.example.com',
        port: 18080,
        caddyPort,
        imageOverrides: new Map(),
        labels: { 'siteflow.sample': 'true' },
        secret: () => 'sample',
      });
    } catch (e) {
      problems.push(`sample render failed: ${describeError(e).split('\n')[0]}`);
      return broken();
    }
  }
  return { ok: true, template };
}

/** Every usable template, and the broken ones with their problems. */
export class TemplateCatalog {
  private readonly byName = new Map<string, SiteTemplate>();

  constructor(
    templates: readonly SiteTemplate[],
    readonly broken: readonly BrokenTemplate[] = [],
  ) {
    for (const t of templates) this.byName.set(t.name, t);
  }

  /** Loads the built-in folder, then `userDir` (a same-named user template replaces a built-in one). */
  static load(dirs: Array<{ dir: string; source: 'built-in' | 'user' }>): TemplateCatalog {
    const found = new Map<string, SiteTemplate>();
    const broken: BrokenTemplate[] = [];
    for (const { dir, source } of dirs) {
      let entries: string[];
      try {
        entries = readdirSync(dir).sort();
      } catch (e) {
        broken.push({ name: '(folder)', dir, source, problems: [`cannot read ${dir}: ${describeError(e)}`] });
        continue;
      }
      for (const entry of entries) {
        const path = join(dir, entry);
        if (entry.startsWith('.') || !statSync(path).isDirectory()) continue;
        const r = loadTemplate(path, source);
        if (r.ok) found.set(r.template.name, r.template);
        else {
          broken.push(r.broken);
          found.delete(r.broken.name);
        }
      }
    }
    return new TemplateCatalog([...found.values()], broken);
  }

  /** Templates sorted by name. */
  list(): SiteTemplate[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): SiteTemplate | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return this.list().map((t) => t.name);
  }
}
