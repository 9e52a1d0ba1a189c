/**
 * The process logger: pino JSON on stderr. Secrets are removed twice: by path
 * (well-known field names) and by value (every configured secret, wherever it appears
 * in the serialized line), so a token pasted into an error message is still redacted.
 */
import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';

/** The marker that replaces a secret. */
export const REDACTED = '[redacted]';

const SECRET_PATHS = [
  'token',
  'password',
  'secret',
  'authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

/** Replaces every occurrence of each secret (and its JSON-escaped form) in `line`. */
export function redactSecrets(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const s of secrets) {
    if (s.length < 4) continue; // too short to redact without mangling ordinary text
    out = out.split(s).join(REDACTED);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) out = out.split(escaped).join(REDACTED);
  }
  return out;
}

/** Creates the root logger. `destination` defaults to stderr (stdout belongs to the console surface). */
export function createLogger(opts: {
  level: string;
  secrets: readonly string[];
  destination?: DestinationStream;
}): PinoLogger {
  const secrets = [...opts.secrets].sort((a, b) => b.length - a.length);
  return pino(
    {
      level: opts.level,
      base: { app: 'siteflow' },
      redact: { paths: SECRET_PATHS, censor: REDACTED },
      hooks: secrets.length
        ? {
            streamWrite: (s: string) => redactSecrets(s, secrets),
          }
        : {},
    },
    opts.destination ?? pino.destination(2),
  );
}
