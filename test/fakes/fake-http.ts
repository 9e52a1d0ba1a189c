import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A file part of a multipart/form-data body, with its bytes. */
export interface UploadedPart {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

/** A parsed request body: fields (text parts or JSON/form keys) and file parts. */
export interface ParsedBody {
  raw: Buffer;
  contentType: string;
  /** Parsed JSON (application/json), form fields (urlencoded / multipart text parts), or undefined. */
  json?: unknown;
  form?: Record<string, string>;
  files: UploadedPart[];
}

/** Reads the whole request body. */
export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Parses a request body by its Content-Type: JSON, urlencoded form, or multipart/form-data
 * (multipart is parsed with the platform's fetch Response#formData, no extra dependency).
 */
export async function parseBody(req: IncomingMessage): Promise<ParsedBody> {
  const raw = await readRaw(req);
  const contentType = String(req.headers['content-type'] ?? '');
  const out: ParsedBody = { raw, contentType, files: [] };
  if (raw.length === 0) return out;
  if (contentType.startsWith('application/json')) {
    out.json = JSON.parse(raw.toString('utf8'));
  } else if (contentType.startsWith('application/x-www-form-urlencoded')) {
    out.form = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
  } else if (contentType.startsWith('multipart/form-data')) {
    const fd = await new Response(new Uint8Array(raw), {
      headers: { 'content-type': contentType },
    }).formData();
    out.form = {};
    for (const [field, value] of fd.entries()) {
      if (typeof value === 'string') {
        out.form[field] = value;
      } else {
        out.files.push({
          field,
          filename: value.name,
          contentType: value.type || 'application/octet-stream',
          bytes: Buffer.from(await value.arrayBuffer()),
        });
      }
    }
  }
  return out;
}

/** Writes a JSON response. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Writes an empty response (no Content-Type: a 204 must not claim JSON). */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end();
}

/** Starts listening on 127.0.0.1 with an ephemeral port and returns the port. */
export function listenLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Closes a server, dropping keep-alive connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A predicate over "METHOD /path" used by fault injectors. */
export type RouteMatcher = string | RegExp | ((methodAndPath: string) => boolean);

/** True when `matcher` matches the request line or its route template. */
export function matchesRoute(matcher: RouteMatcher, methodAndPath: string, template?: string): boolean {
  if (typeof matcher === 'function') return matcher(methodAndPath);
  if (matcher instanceof RegExp) return matcher.test(methodAndPath) || (!!template && matcher.test(template));
  return matcher === methodAndPath || matcher === template || matcher === methodAndPath.split(' ')[1];
}
