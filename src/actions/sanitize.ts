/** Makes untrusted output (container logs, compose output) safe to show anywhere. */
import stripAnsi from 'strip-ansi';

/** Longest line shown; the full line stays in the run log. */
export const MAX_LINE = 1000;

/**
 * Strips terminal control sequences and other C0/C1 control characters (tabs become
 * spaces) and clamps the length, marking the cut.
 */
export function sanitizeLine(text: string, max = MAX_LINE): string {
  const clean = stripAnsi(text)
    .replace(/\t/g, '  ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
  return clean.length > max ? `${clean.slice(0, max)}… [${clean.length - max} more characters]` : clean;
}
