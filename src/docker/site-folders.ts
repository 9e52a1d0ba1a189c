/**
 * Site folders under SITES_ROOT: a folder whose name is a valid site name and that holds a
 * compose file is a site, even when none of its containers exist.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NAME_RE } from '../core/command.js';
import type { SiteFolder } from '../core/engine.js';

/** Compose file names in the order compose itself prefers them. */
export const COMPOSE_FILE_NAMES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yml',
  'docker-compose.yaml',
] as const;

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * The site folder `root/name`, or null when the name is invalid or it holds no compose file.
 * Its compose file is the one compose itself would pick (the first of COMPOSE_FILE_NAMES present),
 * so passing it as `-f` runs exactly what a plain `compose` in the folder would.
 */
export async function siteFolder(root: string, name: string): Promise<SiteFolder | null> {
  if (!NAME_RE.test(name)) return null;
  const dir = join(root, name);
  for (const f of COMPOSE_FILE_NAMES)
    if (await isFile(join(dir, f))) return { name, dir, composeFiles: [join(dir, f)] };
  return null;
}

/** Every site folder under `root`, sorted by name; an absent root has none. */
export async function scanSitesRoot(root: string): Promise<SiteFolder[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return [];
    throw e;
  }
  const found = await Promise.all(names.filter((n) => NAME_RE.test(n)).map((n) => siteFolder(root, n)));
  return found.filter((f): f is SiteFolder => f !== null).sort((a, b) => a.name.localeCompare(b.name));
}
