import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderSite } from '../../../src/provision/render-site.js';
import { builtInTemplatesDir, TemplateCatalog } from '../../../src/provision/template-catalog.js';

const builtIn = TemplateCatalog.load([{ dir: builtInTemplatesDir(), source: 'built-in' }]);
const tmp = mkdtempSync(join(tmpdir(), 'sf-templates-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const input = {
  site: 'my-blog',
  domain: 'blog.example.com',
  port: 18080,
  caddyPort: null,
  imageOverrides: new Map<string, string>(),
  labels: { 'siteflow.test': 'run-1' },
};

describe('built-in templates', () => {
  it('are the four CMS stacks, all valid', () => {
    expect(builtIn.broken).toEqual([]);
    expect(builtIn.names()).toEqual(['node', 'python', 'static', 'wordpress']);
    expect(builtIn.get('wordpress')!.meta.adminPath).toBe('/wp-admin/');
    for (const n of ['static', 'node', 'python']) expect(builtIn.get(n)!.meta.adminPath).toMatch(/^\/admin/);
  });

  it('node: with no package.json in app/ the container serves a placeholder page (no npm ci loop)', async () => {
    const r = renderSite(builtIn.get('node')!, input);
    const app = (parse(r.compose) as { services: Record<string, { command: string[]; volumes: string[] }> })
      .services.app!;
    const script = app.command.at(-1)!;
    expect(script).toMatch(
      /^if \[ -f package\.json \]; then npm ci .* else exec node \/siteflow\/placeholder-server\.cjs; fi$/,
    );
    expect(app.volumes).toContain('./siteflow:/siteflow:ro');
    const placeholder = r.files.find((f) => f.path === 'siteflow/placeholder-server.cjs')!;
    // The rendered placeholder really serves the health-check path, with Node alone.
    const file = join(tmp, 'placeholder-server.cjs');
    writeFileSync(file, placeholder.content);
    const { spawn } = await import('node:child_process');
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((res) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const child = spawn(process.execPath, [file], {
      env: { PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise((res) => child.stdout.once('data', res));
      const res = await fetch(`http://127.0.0.1:${port}${builtIn.get('node')!.meta.health.http[0]!.path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('package.json');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('python: fixed module webapp, nothing in app/ before `wagtail start`, settings read the env', () => {
    const r = renderSite(builtIn.get('python')!, { ...input, site: '1st-site' });
    expect(r.files.map((f) => f.path).filter((p) => p.startsWith('app/'))).toEqual([]);
    const app = (
      parse(r.compose) as {
        services: Record<
          string,
          { command: string[]; environment: Record<string, string>; volumes: string[] }
        >;
      }
    ).services.app!;
    const script = app.command.at(-1)!;
    expect(script).toContain('wagtail start webapp .');
    expect(script).toContain('gunicorn webapp.wsgi:application');
    expect(script).not.toContain('1st-site');
    expect(app.environment).toMatchObject({
      DJANGO_SETTINGS_MODULE: 'siteflow_settings',
      PYTHONPATH: '/siteflow',
    });
    expect(app.volumes).toContain('./siteflow:/siteflow:ro');
    const settings = r.files.find((f) => f.path === 'siteflow/siteflow_settings.py')!.content;
    expect(settings).toContain('os.environ["DATABASE_URL"]');
    expect(settings).toContain('os.environ["DJANGO_SECRET_KEY"]');
    expect(r.files.find((f) => f.path === 'siteflow/requirements.txt')!.content).toMatch(/dj-database-url/);
  });

  it('render labels on every service, network and volume, and keep secrets out of the compose file', () => {
    for (const t of builtIn.list()) {
      const r = renderSite(t, input);
      const spec = parse(r.compose);
      for (const s of Object.values(spec.services) as Array<{ labels: Record<string, string> }>)
        expect(s.labels['siteflow.test']).toBe('run-1');
      expect(spec.networks.default.labels['siteflow.test']).toBe('run-1');
      for (const v of Object.values(spec.volumes ?? {}) as Array<{ labels: Record<string, string> }>)
        expect(v.labels['siteflow.test']).toBe('run-1');
      for (const name of r.secretNames) {
        expect(r.env[name]).toMatch(/^[0-9a-f]{48,64}$/);
        expect(r.compose).not.toContain(r.env[name]);
        expect(r.caddy).not.toContain(r.env[name]);
        expect(r.compose).toContain(`\${${name}}`);
      }
      expect(r.caddy.startsWith('blog.example.com {\n')).toBe(true);
      expect(r.caddy).toContain('reverse_proxy 127.0.0.1:18080');
    }
  });

  it('databases get generated credentials, different each time', () => {
    const wp = builtIn.get('wordpress')!;
    const a = renderSite(wp, input);
    const b = renderSite(wp, input);
    expect(a.secretNames).toEqual(['DB_PASSWORD', 'DB_ROOT_PASSWORD']);
    expect(a.env.DB_PASSWORD).not.toBe(b.env.DB_PASSWORD);
    expect(a.env.DB_NAME).toBe('my_blog');
  });

  it('applies image overrides (a mirror) to exact references', () => {
    const r = renderSite(builtIn.get('wordpress')!, {
      ...input,
      imageOverrides: new Map([['mariadb:11.4', 'mirror.local:5000/mariadb:11.4']]),
    });
    const spec = parse(r.compose);
    expect(spec.services.db.image).toBe('mirror.local:5000/mariadb:11.4');
    expect(spec.services.wordpress.image).toBe('wordpress:6.6-php8.2-apache');
  });

  it('uses a plain-HTTP site address when a Caddy port is configured', () => {
    const r = renderSite(builtIn.get('static')!, { ...input, caddyPort: 8081 });
    expect(r.caddy.startsWith('http://blog.example.com:8081 {')).toBe(true);
    expect(r.adminUrl).toBe('http://blog.example.com:8081/admin/');
  });

  it('refuses domains and names that would inject directives', () => {
    const t = builtIn.get('static')!;
    for (const domain of ['a.com\nimport /etc/passwd', 'a.com {', 'a.com }\n:80 {'])
      expect(() => renderSite(t, { ...input, domain })).toThrow(/domain/);
    expect(() => renderSite(t, { ...input, site: '../x' })).toThrow(/site name/);
  });
});

describe('broken user templates are reported at load', () => {
  function variant(name: string, edit: (dir: string) => void): void {
    const dir = join(tmp, name);
    cpSync(join(builtInTemplatesDir(), 'wordpress'), dir, { recursive: true });
    edit(dir);
  }
  const meta = (dir: string) => JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8'));
  const put = (dir: string, m: unknown) => writeFileSync(join(dir, 'template.json'), JSON.stringify(m));

  variant('good', () => {});
  variant('bad-json', (d) => writeFileSync(join(d, 'template.json'), '{ nope'));
  variant('unpinned', (d) =>
    put(d, { ...meta(d), images: { ...meta(d).images, mariadb: 'mariadb:latest' } }),
  );
  variant('unknown-var', (d) =>
    writeFileSync(
      join(d, 'compose.yml.hbs'),
      readFileSync(join(d, 'compose.yml.hbs'), 'utf8').replace('{{port}}', '{{prot}}'),
    ),
  );
  variant('bad-yaml', (d) => writeFileSync(join(d, 'compose.yml.hbs'), 'services:\n  db: [\n'));
  variant('undeclared-secret', (d) =>
    writeFileSync(
      join(d, 'compose.yml.hbs'),
      readFileSync(join(d, 'compose.yml.hbs'), 'utf8').replace('$' + '{DB_PASSWORD}', '$' + '{DB_PASSWD}'),
    ),
  );
  variant('caddy-import', (d) =>
    writeFileSync(join(d, 'Caddyfile.hbs'), '{{address}} {\n\timport /etc/passwd\n}\n'),
  );
  variant('hardcoded-image', (d) =>
    writeFileSync(
      join(d, 'compose.yml.hbs'),
      readFileSync(join(d, 'compose.yml.hbs'), 'utf8').replace('{{images.mariadb}}', 'mysql:8'),
    ),
  );
  variant('missing-caddy', (d) => rmSync(join(d, 'Caddyfile.hbs')));
  variant('Bad_Name', () => {});

  const catalog = TemplateCatalog.load([{ dir: tmp, source: 'user' }]);
  const problems = (n: string) => catalog.broken.find((b) => b.name === n)?.problems.join('; ') ?? '';

  it('keeps the good one and names every problem of the others', () => {
    expect(catalog.names()).toEqual(['good']);
    expect(problems('bad-json')).toMatch(/not valid JSON/);
    expect(problems('unpinned')).toMatch(/pinned/);
    expect(problems('unknown-var')).toMatch(/prot/);
    expect(problems('bad-yaml')).toMatch(/not valid YAML/);
    expect(problems('undeclared-secret')).toMatch(/DB_PASSWD/);
    expect(problems('caddy-import')).toMatch(/import/);
    expect(problems('hardcoded-image')).toMatch(/pinned images/);
    expect(problems('missing-caddy')).toMatch(/missing Caddyfile.hbs/);
    expect(problems('Bad_Name')).toMatch(/folder name/);
  });
});

describe('template files may not write SiteFlow’s own files', () => {
  it('refuses docker-compose.yml, compose files, overrides, .env and Caddy snippets; allows ordinary files', async () => {
    const { templateMetaSchema } = await import('../../../src/provision/template-meta.js');
    const base = JSON.parse(readFileSync(join(builtInTemplatesDir(), 'wordpress', 'template.json'), 'utf8'));
    const withFile = (path: string) =>
      templateMetaSchema.safeParse({ ...base, files: [{ path, template: 'x.hbs' }] });
    for (const path of [
      'docker-compose.yml',
      'docker-compose.yaml',
      'compose.yaml',
      'compose.yml',
      'docker-compose.override.yml',
      'COMPOSE.YAML',
      '.env',
      'config/.env',
      'blog.caddy',
      'sub/site.caddy',
    ]) {
      const r = withFile(path);
      expect(r.success, path).toBe(false);
      if (!r.success) expect(r.error.issues[0]!.message).toMatch(/may not write/);
    }
    for (const path of ['www/index.html', 'config/env.example', 'docker-compose.yml.bak/readme.txt'])
      expect(withFile(path).success, path).toBe(true);
  });
});
