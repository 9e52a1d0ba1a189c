/**
 * The graph view, laid out on the server: hosts -> sites -> containers, and site -> backup ->
 * NAS. Each site's small tree is laid out with dagre (and cached until its containers change);
 * the site blocks are stacked per host, with the host node on the left and the NAS on the
 * right. Laying out the sites one by one keeps it linear in the number of sites: dagre on the
 * whole graph would block the event loop for seconds at a few hundred sites.
 * Colours are classes (tones) applied at render time, so a state change never needs a new
 * layout.
 */
import { Graph, layout } from '@dagrejs/dagre';
import type { LiveSite, LiveSnapshot } from '../core/live-state.js';
import { backupVM, domId, toneOf } from './view-model.js';

/** A node as drawn. Coordinates are the top-left corner. */
export interface GraphNode {
  id: string;
  kind: 'host' | 'site' | 'container' | 'backup' | 'nas';
  /** The entity's key: host name, `host/site`, `host/containerId`, `host/site` (backup), `nas`. */
  key: string;
  label: string;
  sub: string;
  tone: string;
  /** Full sentence for screen readers. */
  aria: string;
  x: number;
  y: number;
  w: number;
  h: number;
  /** Text anchor (centre) and baselines. */
  tx: number;
  ty1: number;
  ty2: number;
}

/** An edge as drawn (an SVG path). */
export interface GraphEdge {
  from: string;
  to: string;
  d: string;
  kind: string;
}

/** A laid-out graph. */
export interface GraphModel {
  version: number;
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  description: string;
}

const SIZE = {
  host: { w: 150, h: 46 },
  site: { w: 210, h: 46 },
  container: { w: 200, h: 46 },
  backup: { w: 170, h: 46 },
  nas: { w: 130, h: 50 },
} as const;
const GAP = 28;
const COL_SITE = 230;
const MARGIN = 16;

interface SiteLayout {
  sig: string;
  width: number;
  height: number;
  /** Relative positions (centre) by local id: `site`, `backup`, `c:<containerId>`. */
  pos: Map<string, { x: number; y: number }>;
  edges: Array<{ from: string; to: string; points: Array<{ x: number; y: number }> }>;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Lays out graphs; keeps per-site layouts between calls. */
export class GraphLayout {
  private readonly sites = new Map<string, SiteLayout>();
  private cached: GraphModel | null = null;

  /** The graph of a snapshot (the same object while the snapshot version is unchanged). */
  build(snap: LiveSnapshot, now: number): GraphModel {
    if (this.cached?.version === snap.version) return this.cached;
    const nodes: GraphNode[] = [];
    const edges: GraphEdge[] = [];
    const seen = new Set<string>();
    let y = MARGIN;
    let maxRight = 0;
    const backups: GraphNode[] = [];
    for (const h of snap.hosts) {
      const top = y;
      const siteNodes: GraphNode[] = [];
      for (const s of h.sites) {
        seen.add(s.key);
        const lay = this.siteLayout(s);
        const ox = MARGIN + SIZE.host.w + COL_SITE - SIZE.site.w / 2;
        for (const [local, p] of lay.pos) {
          const n = this.node(s, local, ox + p.x, y + p.y, now);
          nodes.push(n);
          if (n.kind === 'site') siteNodes.push(n);
          if (n.kind === 'backup') backups.push(n);
          maxRight = Math.max(maxRight, n.x + n.w);
        }
        for (const e of lay.edges) {
          const pts = e.points.map((p) => `${(ox + p.x).toFixed(1)},${(y + p.y).toFixed(1)}`);
          edges.push({
            from: this.nodeId(s, e.from),
            to: this.nodeId(s, e.to),
            d: `M${pts.join(' L')}`,
            kind: e.to === 'backup' ? 'backup' : 'contains',
          });
        }
        y += lay.height + GAP;
      }
      if (h.sites.length === 0) y += SIZE.host.h + GAP;
      const bottom = y - GAP;
      const hy = (top + bottom) / 2 - SIZE.host.h / 2;
      const reach = h.reachable === null ? 'unknown' : h.reachable ? 'reachable' : 'unreachable';
      const hostNode: GraphNode = {
        id: domId('gh', h.name),
        kind: 'host',
        key: h.name,
        label: clip(h.name, 20),
        sub: `host · ${reach}`,
        tone: h.reachable === null ? 'muted' : h.reachable ? 'good' : 'bad',
        aria: `Host ${h.name}: ${reach}, ${h.sites.length} sites`,
        x: MARGIN,
        y: hy,
        w: SIZE.host.w,
        h: SIZE.host.h,
        tx: MARGIN + SIZE.host.w / 2,
        ty1: hy + 19,
        ty2: hy + 36,
      };
      nodes.push(hostNode);
      for (const sn of siteNodes) {
        edges.push({ from: hostNode.id, to: sn.id, d: curve(hostNode, sn), kind: 'runs' });
      }
      y += GAP;
    }
    for (const k of this.sites.keys()) if (!seen.has(k)) this.sites.delete(k);
    const height = Math.max(y, SIZE.nas.h + 2 * MARGIN);
    const nasX = maxRight + 90;
    const nasY = height / 2 - SIZE.nas.h / 2;
    const nas: GraphNode = {
      id: 'g-nas',
      kind: 'nas',
      key: 'nas',
      label: 'NAS',
      sub: 'backups',
      tone: 'muted',
      aria: `NAS: backups of ${backups.length} sites`,
      x: nasX,
      y: nasY,
      w: SIZE.nas.w,
      h: SIZE.nas.h,
      tx: nasX + SIZE.nas.w / 2,
      ty1: nasY + 21,
      ty2: nasY + 38,
    };
    if (backups.length) {
      nodes.push(nas);
      for (const b of backups) edges.push({ from: b.id, to: nas.id, d: curve(b, nas), kind: 'stored' });
    }
    const width = (backups.length ? nasX + SIZE.nas.w : maxRight) + MARGIN;
    const sum = nodes.reduce(
      (a, n) => {
        if (n.kind === 'container') {
          a.c++;
          if (n.tone === 'bad') a.bad++;
        }
        if (n.kind === 'site') a.s++;
        return a;
      },
      { c: 0, s: 0, bad: 0 },
    );
    this.cached = {
      version: snap.version,
      width: Math.ceil(Math.max(width, 320)),
      height: Math.ceil(height),
      nodes,
      edges,
      description: `${snap.hosts.length} hosts, ${sum.s} sites, ${sum.c} containers (${sum.bad} down or unhealthy).`,
    };
    return this.cached;
  }

  /**
   * Tone, state line and label of a site's nodes (site, backup, containers), without a
   * layout: what a live update needs to recolour the drawn graph.
   */
  patches(s: LiveSite, now: number): Array<{ id: string; tone: string; sub: string; aria: string }> {
    const locals = ['site', 'backup', ...s.containers.map((c) => `c:${c.id}`)];
    return locals.map((l) => {
      const n = this.node(s, l, 0, 0, now);
      return { id: n.id, tone: n.tone, sub: n.sub, aria: n.aria };
    });
  }

  private nodeId(s: LiveSite, local: string): string {
    if (local === 'site') return domId('gs', s.key);
    if (local === 'backup') return domId('gb', s.key);
    return domId('gc', `${s.host}/${local.slice(2)}`);
  }

  private node(s: LiveSite, local: string, cx: number, cy: number, now: number): GraphNode {
    const kind = local === 'site' ? 'site' : local === 'backup' ? 'backup' : 'container';
    const { w, h } = SIZE[kind];
    const x = cx - w / 2;
    const y = cy - h / 2;
    const base = { x, y, w, h, tx: cx, ty1: y + 19, ty2: y + 36, id: this.nodeId(s, local) };
    if (kind === 'site') {
      return {
        ...base,
        kind,
        key: s.key,
        label: clip(s.name, 24),
        sub: `site · ${s.state}`,
        tone: toneOf(s.state),
        aria: `Site ${s.name} on ${s.host}: ${s.state}`,
      };
    }
    if (kind === 'backup') {
      const b = backupVM(s.backup, now);
      return {
        ...base,
        kind,
        key: s.key,
        label: 'backup',
        sub: clip(b.text.replace(/^backup:? ?/, ''), 24),
        tone: b.tone,
        aria: `Backup of site ${s.name}: ${b.text.replace(/^backup:? ?/, '')}`,
      };
    }
    const c = s.containers.find((x) => x.id === local.slice(2))!;
    const health = c.health ? ` (${c.health})` : '';
    return {
      ...base,
      kind,
      key: `${s.host}/${c.id}`,
      label: clip(c.service ?? c.name, 26),
      sub: `${c.status}${c.restartCount ? ` · ${c.restartCount} restarts` : ''}`,
      tone: toneOf(c.status),
      aria: `Container ${c.name} of site ${s.name}: ${c.status}${health}, ${c.restartCount} restarts`,
    };
  }

  private siteLayout(s: LiveSite): SiteLayout {
    const sig = s.containers.map((c) => c.id).join(',');
    const have = this.sites.get(s.key);
    if (have && have.sig === sig) return have;
    const g = new Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 10, ranksep: 50, marginx: 0, marginy: 0 });
    g.setDefaultEdgeLabel(() => ({}));
    g.setNode('site', { width: SIZE.site.w, height: SIZE.site.h });
    for (const c of s.containers) {
      g.setNode(`c:${c.id}`, { width: SIZE.container.w, height: SIZE.container.h });
      g.setEdge('site', `c:${c.id}`);
    }
    g.setNode('backup', { width: SIZE.backup.w, height: SIZE.backup.h });
    g.setEdge('site', 'backup');
    layout(g);
    const pos = new Map<string, { x: number; y: number }>();
    let minY = Number.POSITIVE_INFINITY;
    let maxY = Number.NEGATIVE_INFINITY;
    let minX = Number.POSITIVE_INFINITY;
    for (const id of g.nodes()) {
      const n = g.node(id) as { x: number; y: number; width: number; height: number };
      pos.set(id, { x: n.x, y: n.y });
      minY = Math.min(minY, n.y - n.height / 2);
      maxY = Math.max(maxY, n.y + n.height / 2);
      if (id === 'site') minX = n.x;
    }
    for (const p of pos.values()) {
      p.x -= minX;
      p.y -= minY;
    }
    const edges = g.edges().map((e: { v: string; w: string }) => ({
      from: e.v,
      to: e.w,
      points: ((g.edge(e) as { points?: Array<{ x: number; y: number }> }).points ?? []).map((p) => ({
        x: p.x - minX,
        y: p.y - minY,
      })),
    }));
    const lay: SiteLayout = { sig, width: 0, height: maxY - minY, pos, edges };
    this.sites.set(s.key, lay);
    return lay;
  }
}

/** A horizontal S-curve from the right edge of `a` to the left edge of `b`. */
function curve(a: GraphNode, b: GraphNode): string {
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x;
  const y2 = b.y + b.h / 2;
  const mx = (x1 + x2) / 2;
  return `M${x1.toFixed(1)},${y1.toFixed(1)} C${mx.toFixed(1)},${y1.toFixed(1)} ${mx.toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
}
