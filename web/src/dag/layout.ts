import { Graph, layout } from '@dagrejs/dagre';

export interface DagNodeInput {
  readonly key: string;
  readonly dependsOn: readonly string[];
}

export interface PlacedNode {
  readonly key: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface PlacedEdge {
  readonly from: string;
  readonly to: string;
  readonly points: ReadonlyArray<{ x: number; y: number }>;
}

export interface DagLayout {
  readonly nodes: PlacedNode[];
  readonly edges: PlacedEdge[];
  readonly width: number;
  readonly height: number;
}

export const NODE_WIDTH = 150;
export const NODE_HEIGHT = 52;

/** Places the manifest's steps with dagre (layered, left to right); edges point downstream. */
export function layoutDag(steps: readonly DagNodeInput[], direction: 'LR' | 'TB' = 'LR'): DagLayout {
  const graph = new Graph();
  graph.setGraph({ rankdir: direction, nodesep: 24, ranksep: 48, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const step of steps) graph.setNode(step.key, { width: NODE_WIDTH, height: NODE_HEIGHT });
  const keys = new Set(steps.map((s) => s.key));
  for (const step of steps) for (const dep of step.dependsOn) if (keys.has(dep)) graph.setEdge(dep, step.key);
  layout(graph);
  const nodes = steps.map((step) => {
    const node = graph.node(step.key);
    return { key: step.key, x: node.x - NODE_WIDTH / 2, y: node.y - NODE_HEIGHT / 2, width: NODE_WIDTH, height: NODE_HEIGHT };
  });
  const edges = graph.edges().map((e) => ({ from: e.v, to: e.w, points: graph.edge(e).points ?? [] }));
  const label = graph.graph();
  return { nodes, edges, width: label.width ?? 0, height: label.height ?? 0 };
}
