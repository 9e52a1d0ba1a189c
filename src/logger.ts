/**
 * The process logger: pino JSON on stderr. Secrets are removed twice: by path
 * (well-known field names) and by value (every configured secret, wherever it appears
 * in the serialized line), so a token pasted into an error message is still redacted.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
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

/**
 * A log destination that never throws, never loops and never needs flushing at exit: each line
 * is written synchronously to the log file (or stderr); when that fails (a full disk, a closed
 * descriptor) the line and all after it go to stderr, and when stderr fails too they are dropped
 * and counted. pino's own file destination re-throws ENOSPC as an uncaught error and retries
 * forever in flushSync at exit; this one does neither.
 */
export class SafeLogDestination implements DestinationStream {
  private fd: number | null;
  private failedOver = false;
  /** Lines that could be written nowhere. */
  dropped = 0;

  /** `file`: append to this file; null: write to `fallbackFd` (stderr) only. */
  constructor(
    file: string | null = null,
    private readonly fallbackFd = 2,
  ) {
    if (file === null) {
      this.fd = null;
      return;
    }
    try {
      mkdirSync(dirname(file), { recursive: true });
      this.fd = openSync(file, 'a', 0o640);
    } catch {
      this.fd = null;
      this.failedOver = true;
    }
  }

  /** True once the log file failed and lines go to stderr instead. */
  get onStderr(): boolean {
    return this.failedOver;
  }

  write(line: string): void {
    if (this.fd !== null && !this.failedOver) {
      if (writeAll(this.fd, line)) return;
      this.failedOver = true;
      writeAll(
        this.fallbackFd,
        `${JSON.stringify({ level: 40, time: Date.now(), app: 'siteflow', msg: 'log file cannot be written (disk full?); logging to stderr' })}\n`,
      );
    }
    if (!writeAll(this.fallbackFd, line)) this.dropped++;
  }

  /** Closes the log file (stderr stays open). */
  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // already gone
      }
      this.fd = null;
    }
  }
}

/** Writes all of `s` to `fd`; false on any error (nothing is retried). */
function writeAll(fd: number, s: string): boolean {
  try {
    let buf = Buffer.from(s, 'utf8');
    while (buf.length > 0) {
      const n = writeSync(fd, buf);
      if (n <= 0) return false;
      buf = buf.subarray(n);
    }
    return true;
  } catch {
    return false;
  }
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
    opts.destination ?? new SafeLogDestination(null),
  );
}
