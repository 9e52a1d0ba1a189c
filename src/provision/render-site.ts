/**
 * Renders a site template into the files of a new site: the compose file (with image
 * overrides and SiteFlow's labels applied to the parsed YAML), the Caddy snippet, the
 * `.env` (generated secrets) and extra files. Only validated plain words reach the
 * templates; secrets never do: compose files refer to them as `${NAME}` from `.env`.
 */
import { randomBytes } from 'node:crypto';
import { parseDocument, stringify } from 'yaml';
import { SiteFlowError } from '../core/errors.js';
import { checkDomain, checkSiteName, PARAM_VALUE_RE } from './names.js';
import type { SiteTemplate } from './template-catalog.js';

/** What a render needs besides the template. */
export interface RenderInput {
  site: string;
  domain: string;
  /** Loopback port the web service is published on. */
  port: number;
  /** Plain-HTTP port for the Caddy site address, or null for `DOMAIN` with automatic HTTPS. */
  caddyPort: number | null;
  /** Exact image reference -> replacement. */
  imageOverrides: ReadonlyMap<string, string>;
  /** Labels put on every service, network and volume. */
  labels: Readonly<Record<string, string>>;
  /** Deterministic secrets (tests); random otherwise. */
  secret?: (name: string) => string;
}

/** A rendered site, ready to be written. `env` holds secrets: never print or log it. */
export interface RenderedSite {
  compose: string;
  caddy: string;
  env: Record<string, string>;
  /** Names of the `.env` entries that are secrets. */
  secretNames: string[];
  files: Array<{ path: string; content: string }>;
  dirs: string[];
  /** Images the compose file runs, after overrides. */
  images: string[];
  /** Site address in the Caddy snippet, e.g. `blog.example.com` or `http://blog.test:8080`. */
  address: string;
  adminUrl: string;
}

/** The Handlebars context every template file sees (all plain, validated words). */
export interface TemplateContext {
  site: string;
  /** The site name with `-` as `_` (database and user names). */
  siteId: string;
  domain: string;
  port: number;
  address: string;
  adminPath: string;
  adminUrl: string;
  images: Record<string, string>;
  params: Record<string, string>;
}

const VAR_RE = /(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}/g;

function generate(kind: 'password' | 'token'): string {
  return randomBytes(kind === 'password' ? 24 : 32).toString('hex');
}

/** Renders `t` for `input`; throws PROVISION_RENDER with what is wrong. */
export function renderSite(t: SiteTemplate, input: RenderInput): RenderedSite {
  const fail = (msg: string): never => {
    throw new SiteFlowError('PROVISION_RENDER', `template ${t.name}: ${msg}`);
  };
  const name = checkSiteName(input.site);
  if (!name.ok) fail(`site name: ${name.error}`);
  const dom = checkDomain(input.domain);
  if (!dom.ok) fail(`domain: ${dom.error}`);
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) fail('bad port');
  const meta = t.meta;
  const images: Record<string, string> = {};
  for (const [k, ref] of Object.entries(meta.images)) images[k] = input.imageOverrides.get(ref) ?? ref;
  const address = input.caddyPort !== null ? `http://${input.domain}:${input.caddyPort}` : input.domain;
  const adminUrl = `${input.caddyPort !== null ? address : `https://${input.domain}`}${meta.adminPath}`;
  const base = {
    site: input.site,
    siteId: input.site.replace(/-/g, '_'),
    domain: input.domain,
    port: input.port,
    address,
    adminPath: meta.adminPath,
    adminUrl,
    images,
  };

  const env: Record<string, string> = {
    COMPOSE_PROJECT_NAME: input.site,
    SITE_NAME: input.site,
    SITE_DOMAIN: input.domain,
    WEB_PORT: String(input.port),
  };
  const params: Record<string, string> = {};
  const secretNames: string[] = [];
  for (const p of meta.parameters) {
    if (p.generate) {
      env[p.name] = input.secret?.(p.name) ?? generate(p.generate);
      if (p.secret) secretNames.push(p.name);
      else params[p.name] = env[p.name]!;
    } else {
      const v = t.renderParam(p.name, { ...base, params });
      if (!PARAM_VALUE_RE.test(v)) fail(`parameter ${p.name} rendered to a value with special characters`);
      env[p.name] = v;
      params[p.name] = v;
    }
  }
  const ctx: TemplateContext = { ...base, params };

  // Compose: render, parse, check, then apply overrides-independent structure (labels).
  const raw = t.compose(ctx);
  const doc = parseDocument(raw, { uniqueKeys: true });
  if (doc.errors.length) fail(`compose file is not valid YAML: ${doc.errors[0]!.message}`);
  const spec = doc.toJS() as Record<string, unknown> | null;
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) fail('compose file is not a mapping');
  const services = spec!.services as Record<string, Record<string, unknown>> | undefined;
  if (!services || typeof services !== 'object') fail('compose file has no services');
  const allowed = new Set(Object.values(images));
  const declared = new Set(meta.services.map((s) => s.name));
  for (const [svc, def] of Object.entries(services!)) {
    if (!declared.has(svc)) fail(`service ${svc} is not listed in template.json services`);
    if (!def || typeof def !== 'object') fail(`service ${svc} is not a mapping`);
    if (typeof def.image !== 'string' || !allowed.has(def.image))
      fail(`service ${svc} must use one of the template's pinned images ({{images.KEY}})`);
    def.labels = { ...labelMap(def.labels, svc, fail), ...input.labels };
  }
  for (const s of declared) if (!(s in services!)) fail(`service ${s} is missing from the compose file`);
  const networks = (spec!.networks ?? {}) as Record<string, Record<string, unknown> | null>;
  if (!networks.default) networks.default = {};
  for (const [n, def] of Object.entries(networks)) {
    const d = def ?? {};
    if (!d.external) d.labels = { ...labelMap(d.labels, `network ${n}`, fail), ...input.labels };
    networks[n] = d;
  }
  spec!.networks = networks;
  if (spec!.volumes) {
    const volumes = spec!.volumes as Record<string, Record<string, unknown> | null>;
    for (const [v, def] of Object.entries(volumes)) {
      const d = def ?? {};
      if (!d.external) d.labels = { ...labelMap(d.labels, `volume ${v}`, fail), ...input.labels };
      volumes[v] = d;
    }
  }
  const known = new Set(Object.keys(env));
  for (const m of raw.matchAll(VAR_RE))
    if (!known.has(m[1]!)) fail(`compose file uses \${${m[1]}}, which is not a parameter`);
  const compose = `# Generated by SiteFlow from template "${t.name}" for site ${input.site}.\n# Secrets live in .env next to this file.\n${stringify(spec, { lineWidth: 0 })}`;

  const caddy = t.caddy(ctx);
  checkCaddySnippet(caddy, address, fail);

  const files = t.files.map((f) => ({ path: f.path, content: f.render(ctx) }));
  return {
    compose,
    caddy: caddy.endsWith('\n') ? caddy : `${caddy}\n`,
    env,
    secretNames,
    files,
    dirs: [...meta.dirs],
    images: [...new Set(Object.values(services!).map((s) => s.image as string))],
    address,
    adminUrl,
  };
}

function labelMap(labels: unknown, where: string, fail: (m: string) => never): Record<string, string> {
  if (labels === undefined || labels === null) return {};
  if (Array.isArray(labels)) {
    const out: Record<string, string> = {};
    for (const l of labels) {
      const s = String(l);
      const i = s.indexOf('=');
      out[i < 0 ? s : s.slice(0, i)] = i < 0 ? '' : s.slice(i + 1);
    }
    return out;
  }
  if (typeof labels === 'object') return labels as Record<string, string>;
  return fail(`labels of ${where} must be a mapping or a list`);
}

/**
 * Defence in depth for the Caddy snippet: exactly one top-level site block, whose address is
 * the site's, with balanced braces and no `import` of anything.
 */
function checkCaddySnippet(text: string, address: string, fail: (m: string) => never): void {
  const lines = text.split('\n');
  let depth = 0;
  const heads: string[] = [];
  for (const line of lines) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    if (/^import(\s|$)/.test(t)) fail('the Caddy snippet may not import other files');
    if (depth === 0) heads.push(t);
    for (const ch of t) {
      if (ch === '{') depth++;
      else if (ch === '}') depth--;
      if (depth < 0) fail('the Caddy snippet has unbalanced braces');
    }
  }
  if (depth !== 0) fail('the Caddy snippet has unbalanced braces');
  if (heads.length !== 1 || heads[0] !== `${address} {`)
    fail(
      `the Caddy snippet must be one site block starting with "{{address}} {" (got ${JSON.stringify(heads[0] ?? '')})`,
    );
}
