import { stat } from 'node:fs/promises';

/** Whether anything exists at `p` (a missing path is not an error). */
export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
