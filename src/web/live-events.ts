/**
 * The live stream (`/api/events`, server-sent events). Without parameters a client gets state
 * changes (coalesced for a few tens of milliseconds, serialised once and written to every
 * client) and changes of the operations list; with `?run=<id>` it gets that run's output:
 * a `reset`, the hub's replay, then live events until `end`, then `done`.
 * A client that stops reading is dropped (it reconnects and catches up from its `hello`).
 */
import type { Request, Response } from 'express';
import type { OutputHub } from '../core/hub.js';
import type { LiveState, StateChange } from '../core/live-state.js';
import { isOperationId } from '../core/operation-id.js';
import type { Logger } from '../core/ports.js';
import type { RunEvent } from '../core/run-events.js';

/** What the stream needs. */
export interface LiveEventsDeps {
  state: LiveState;
  logger: Logger;
  /** The `state` payload for a batch of changes (called once per batch, not per client). */
  statePayload(change: { version: number; sites: ReadonlySet<string>; structural: boolean }): object;
  /** The `ops` payload (latest operations), when operations started or ended. */
  opsPayload?(): object;
  hub?: OutputHub;
  /** A run's events: replay then live (ActionRunner.events). */
  runEvents?(id: string): AsyncIterable<RunEvent>;
  /** Coalescing window (default 40 ms). */
  flushMs?: number;
  /** Comment lines that keep idle connections open (default 15 s). */
  heartbeatMs?: number;
  /** A client with more than this many bytes unsent is dropped (default 4 MiB). */
  maxBuffered?: number;
}

interface Client {
  res: Response;
}

/** Serves `/api/events`. */
export class LiveEvents {
  private readonly clients = new Set<Client>();
  private readonly runClients = new Set<Response>();
  private readonly dirty = new Set<string>();
  private structural = false;
  private opsDirty = false;
  private alertsDirty = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly knownRuns = new Set<string>();
  private readonly flushMs: number;
  private readonly maxBuffered: number;

  constructor(private readonly deps: LiveEventsDeps) {
    this.flushMs = deps.flushMs ?? 40;
    this.maxBuffered = deps.maxBuffered ?? 4 * 1024 * 1024;
    this.unsubscribe.push(deps.state.subscribe((c) => this.onState(c)));
    if (deps.hub && deps.opsPayload) {
      this.unsubscribe.push(
        deps.hub.onAny((id, ev) => {
          if (ev.type === 'end' || !this.knownRuns.has(id)) {
            this.knownRuns.add(id);
            if (ev.type === 'end') this.knownRuns.delete(id);
            this.opsDirty = true;
            this.schedule();
          }
        }),
      );
    }
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) this.write(c.res, ': keep-alive\n\n');
      for (const r of this.runClients) this.write(r, ': keep-alive\n\n');
    }, deps.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  /** Connected clients (state and run streams). */
  get count(): number {
    return this.clients.size + this.runClients.size;
  }

  /** The express handler. */
  handle = (req: Request, res: Response): void => {
    res.status(200);
    res.set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const run = typeof req.query.run === 'string' ? req.query.run : null;
    if (run !== null) {
      void this.streamRun(req, res, run);
      return;
    }
    const client: Client = { res };
    this.clients.add(client);
    this.write(res, `retry: 2000\nevent: hello\ndata: {"version":${this.deps.state.version}}\n\n`);
    req.on('close', () => this.clients.delete(client));
  };

  /** Ends every stream and stops listening. */
  close(): void {
    clearInterval(this.heartbeat);
    if (this.timer) clearTimeout(this.timer);
    for (const u of this.unsubscribe) u();
    for (const c of this.clients) c.res.end();
    for (const r of this.runClients) r.end();
    this.clients.clear();
    this.runClients.clear();
  }

  private onState(c: StateChange): void {
    for (const k of c.sites) this.dirty.add(k);
    if (c.structural || c.hosts.length > 0) this.structural = true;
    if (c.alerts || c.silences) this.alertsDirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.flushMs);
  }

  private flush(): void {
    this.timer = null;
    const statePending = this.dirty.size > 0 || this.structural || this.alertsDirty;
    if (statePending) {
      const sites = new Set(this.dirty);
      const structural = this.structural;
      this.dirty.clear();
      this.structural = false;
      this.alertsDirty = false;
      if (this.clients.size) {
        try {
          const payload = this.deps.statePayload({ version: this.deps.state.version, sites, structural });
          this.broadcast(`event: state\ndata: ${JSON.stringify(payload)}\n\n`);
        } catch (e) {
          this.deps.logger.error({ err: String(e) }, 'live state payload failed');
        }
      }
    }
    if (this.opsDirty && this.deps.opsPayload) {
      this.opsDirty = false;
      if (this.clients.size) {
        try {
          this.broadcast(`event: ops\ndata: ${JSON.stringify(this.deps.opsPayload())}\n\n`);
        } catch (e) {
          this.deps.logger.error({ err: String(e) }, 'live operations payload failed');
        }
      }
    }
  }

  private broadcast(frame: string): void {
    for (const c of this.clients) this.write(c.res, frame);
  }

  private write(res: Response, frame: string): void {
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > this.maxBuffered) {
      // It stopped reading: drop it; EventSource reconnects and its `hello` says what to refetch.
      res.destroy();
      return;
    }
    res.write(frame);
  }

  private async streamRun(req: Request, res: Response, id: string): Promise<void> {
    if (!isOperationId(id) || !this.deps.runEvents) {
      this.write(res, 'event: done\ndata: {"found":false}\n\n');
      res.end();
      return;
    }
    this.runClients.add(res);
    const events = this.deps.runEvents(id);
    const it = events[Symbol.asyncIterator]();
    const stop = () => {
      void it.return?.();
    };
    req.on('close', stop);
    try {
      this.write(res, 'retry: 2000\nevent: reset\ndata: {}\n\n');
      for (;;) {
        const r = await it.next();
        if (r.done || res.destroyed) break;
        this.write(res, `event: run\ndata: ${JSON.stringify(r.value)}\n\n`);
      }
      this.write(res, 'event: done\ndata: {"found":true}\n\n');
    } catch (e) {
      this.deps.logger.warn({ err: String(e), operationId: id }, 'run stream failed');
    } finally {
      req.off('close', stop);
      this.runClients.delete(res);
      res.end();
    }
  }
}
