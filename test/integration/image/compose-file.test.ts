/**
 * compose.yaml (SiteFlow's own deployment) as docker-compose itself reads it: `docker-compose config`
 * validates the file and prints the resolved model, which must keep the deployment's promises.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_DIR, run, tempDir } from '../../env/harness.js';

const env = inject('siteflowTestEnv');

function config(extra: Record<string, string>) {
  const dir = tempDir('composecfg');
  const envFile = join(dir, 'empty.env');
  writeFileSync(envFile, '');
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SITEFLOW_ENV_FILE: envFile,
    ...extra,
  };
  return run(env.tools.dockerCompose ?? 'docker-compose', ['-f', join(REPO_DIR, 'compose.yaml'), 'config'], {
    cwd: dir,
    env: childEnv,
  });
}

type Service = Record<string, unknown> & { volumes: string[]; environment: Record<string, string> };

describe('compose.yaml', () => {
  it('is valid for docker-compose and runs SiteFlow and Caddy as documented', async () => {
    const out = await config({ DOCKER_GID: '998' });
    const model = parse(out.stdout) as {
      services: Record<string, Service>;
      volumes: Record<string, unknown>;
    };
    const sf = model.services.siteflow!;
    const caddy = model.services.caddy!;
    for (const s of [sf, caddy]) {
      expect(s.network_mode).toBe('host');
      expect(s.init).toBe(true);
      expect(s.restart).toBe('unless-stopped');
    }
    expect(sf.group_add).toEqual(['998']);
    expect(sf.stop_grace_period).toBe('3m');
    expect(sf.healthcheck).toMatchObject({ interval: '30s', retries: 3 });
    expect(sf.volumes).toEqual(
      expect.arrayContaining([
        '/var/run/docker.sock:/var/run/docker.sock:rw',
        'siteflow-data:/data:rw',
        '/srv/sites:/srv/sites:rw',
        '/srv/caddy-sites:/srv/caddy-sites:rw',
      ]),
    );
    expect(caddy.volumes).toEqual(expect.arrayContaining(['/srv/caddy-sites:/srv/caddy-sites:ro']));
    expect(sf.environment).toMatchObject({
      SITES_ROOT: '/srv/sites',
      CADDY_SITES_DIR: '/srv/caddy-sites',
      CADDY_RELOAD_COMMAND:
        'docker exec siteflow-caddy caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile',
    });
    expect(caddy.container_name).toBe('siteflow-caddy');
    expect(Object.keys(model.volumes)).toEqual(expect.arrayContaining(['siteflow-data']));
  });

  it('moved folders stay at the same path inside and outside', async () => {
    const out = await config({ DOCKER_GID: '998', SITES_ROOT: '/opt/web', CADDY_SITES_DIR: '/opt/caddy' });
    const sf = (parse(out.stdout) as { services: Record<string, Service> }).services.siteflow!;
    expect(sf.volumes).toEqual(expect.arrayContaining(['/opt/web:/opt/web:rw', '/opt/caddy:/opt/caddy:rw']));
    expect(sf.environment).toMatchObject({ SITES_ROOT: '/opt/web', CADDY_SITES_DIR: '/opt/caddy' });
  });

  it('refuses to start without the docker socket group, and says how to get it', async () => {
    await expect(config({})).rejects.toThrow(/DOCKER_GID.*stat -c %g \/var\/run\/docker.sock/);
  });
});
