import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

/** Gateway opcodes (discord-api-types GatewayOpcodes). */
export const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  Resume: 6,
  Reconnect: 7,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

/** One frame seen on the gateway, in either direction. */
export interface GatewayFrame {
  at: number;
  dir: 'in' | 'out';
  connection: number;
  op: number;
  t?: string | null;
  s?: number | null;
}

interface SentEvent {
  s: number;
  t: string;
  d: unknown;
}

interface Session {
  id: string;
  seq: number;
  intents: number;
  events: SentEvent[];
  ws?: WebSocket;
  /** Closed sessions stay resumable until invalidated or replaced by a new IDENTIFY. */
  resumable: boolean;
}

/** What the gateway needs from the rest of the fake. */
export interface GatewayHost {
  token: string;
  heartbeatIntervalMs: number;
  resumeUrl(): string;
  readyData(sessionId: string): Record<string, unknown>;
  guildCreates(): Record<string, unknown>[];
}

/**
 * Discord's gateway over `ws`: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats with op 11,
 * RESUME with replay of missed dispatches, and faults (op 7, missed heartbeat acks, op 9, closes).
 */
export class DiscordGateway {
  /** Every frame in and out. */
  readonly frames: GatewayFrame[] = [];
  readonly stats = { connections: 0, identifies: 0, resumes: 0, heartbeats: 0, heartbeatAcks: 0 };
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<WebSocket>();
  private dropAcks = 0;

  constructor(private readonly host: GatewayHost) {}

  /** Hands an HTTP upgrade to the gateway. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  /** True when at least one session is identified and connected. */
  get connected(): boolean {
    return [...this.sessions.values()].some((s) => s.ws && s.ws.readyState === s.ws.OPEN);
  }

  /**
   * Sends a dispatch to every live or resumable session; sessions that are momentarily
   * disconnected get it on RESUME, as Discord replays missed events.
   * `intent` is the intent bit the event needs (0 = always delivered, e.g. INTERACTION_CREATE).
   */
  dispatch(t: string, d: unknown, intent = 0): void {
    for (const session of this.sessions.values()) {
      if (!session.resumable && !session.ws) continue;
      if (intent !== 0 && (session.intents & intent) === 0) continue;
      this.sendDispatch(session, t, d);
    }
  }

  /** Fault: the next `count` heartbeats get no op 11 (the client then resumes as a zombie). */
  dropHeartbeatAcks(count = 1): void {
    this.dropAcks = count;
  }

  /** Fault: op 7 Reconnect on every open connection; Discord closes the socket soon after. */
  requestReconnect(): void {
    for (const ws of this.sockets) {
      this.send(ws, { op: Op.Reconnect, d: null });
      setTimeout(() => ws.readyState === ws.OPEN && ws.close(4000, 'reconnect requested'), 5000).unref();
    }
  }

  /** Fault: op 9 Invalid Session (`resumable` false forces a fresh IDENTIFY). */
  invalidateSessions(resumable = false): void {
    for (const session of this.sessions.values()) {
      if (!resumable) session.resumable = false;
      if (session.ws) this.send(session.ws, { op: Op.InvalidSession, d: resumable });
    }
  }

  /** Fault: close every connection with `code` (sessions stay resumable). */
  closeConnections(code = 4000, reason = 'fake closed'): void {
    for (const ws of this.sockets) ws.close(code, reason);
  }

  /** Fault: ask the client to heartbeat now (op 1 from the server). */
  requestHeartbeat(): void {
    for (const ws of this.sockets) this.send(ws, { op: Op.Heartbeat, d: null });
  }

  /** Closes everything. */
  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const id = ++this.stats.connections;
    const url = new URL(req.url ?? '/', 'http://x');
    this.sockets.add(ws);
    let session: Session | undefined;
    if (url.searchParams.get('encoding') !== 'json' || url.searchParams.get('compress')) {
      // The fake only speaks uncompressed JSON (don't install zlib-sync in tests).
      ws.close(4002, 'only encoding=json without compress is supported');
      return;
    }
    ws.on('close', () => {
      this.sockets.delete(ws);
      if (session && session.ws === ws) session.ws = undefined;
    });
    ws.on('message', (raw: RawData) => {
      let payload: { op: number; d: unknown };
      try {
        payload = JSON.parse(raw.toString());
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      this.frames.push({ at: Date.now(), dir: 'in', connection: id, op: payload.op });
      switch (payload.op) {
        case Op.Heartbeat: {
          this.stats.heartbeats++;
          if (this.dropAcks > 0) {
            this.dropAcks--;
            return;
          }
          this.stats.heartbeatAcks++;
          this.send(ws, { op: Op.HeartbeatAck }, id);
          return;
        }
        case Op.Identify: {
          const d = payload.d as { token?: string; intents?: number };
          if (session) {
            ws.close(4005, 'Already authenticated.');
            return;
          }
          if (d.token !== this.host.token) {
            ws.close(4004, 'Authentication failed.');
            return;
          }
          this.stats.identifies++;
          // A fresh IDENTIFY replaces sessions that are not connected any more.
          for (const old of this.sessions.values()) if (!old.ws) this.sessions.delete(old.id);
          session = {
            id: randomBytes(16).toString('hex'),
            seq: 0,
            intents: d.intents ?? 0,
            events: [],
            ws,
            resumable: true,
          };
          this.sessions.set(session.id, session);
          this.sendDispatch(session, 'READY', this.host.readyData(session.id));
          for (const guild of this.host.guildCreates()) this.sendDispatch(session, 'GUILD_CREATE', guild);
          return;
        }
        case Op.Resume: {
          const d = payload.d as { token?: string; session_id?: string; seq?: number };
          const found = d.session_id ? this.sessions.get(d.session_id) : undefined;
          if (d.token !== this.host.token) {
            ws.close(4004, 'Authentication failed.');
            return;
          }
          if (!found?.resumable) {
            this.send(ws, { op: Op.InvalidSession, d: false }, id);
            return;
          }
          this.stats.resumes++;
          if (found.ws && found.ws !== ws) found.ws.close(4000, 'resumed elsewhere');
          session = found;
          found.ws = ws;
          for (const ev of found.events) {
            if (ev.s > (d.seq ?? 0)) this.send(ws, { op: Op.Dispatch, t: ev.t, s: ev.s, d: ev.d }, id);
          }
          this.sendDispatch(found, 'RESUMED', {});
          return;
        }
        default:
          return;
      }
    });
    this.send(ws, { op: Op.Hello, d: { heartbeat_interval: this.host.heartbeatIntervalMs } }, id);
  }

  private sendDispatch(session: Session, t: string, d: unknown): void {
    const s = ++session.seq;
    session.events.push({ s, t, d });
    if (session.events.length > 1000) session.events.shift();
    if (session.ws && session.ws.readyState === session.ws.OPEN) {
      this.send(session.ws, { op: Op.Dispatch, t, s, d });
    }
  }

  private send(
    ws: WebSocket,
    payload: { op: number; d?: unknown; t?: string; s?: number },
    connection = 0,
  ): void {
    if (ws.readyState !== ws.OPEN) return;
    this.frames.push({ at: Date.now(), dir: 'out', connection, op: payload.op, t: payload.t, s: payload.s });
    ws.send(JSON.stringify({ t: null, s: null, d: null, ...payload }));
  }
}
