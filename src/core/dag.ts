/**
 * DAG planning: a deterministic topological order (ties broken by manifest order), cycle
 * detection and upstream queries. Everything here is linear in steps + edges (the order has a
 * log factor from its heap), and iterative: no manifest can exhaust the stack.
 */

export interface DagNode {
  readonly key: string;
  readonly dependsOn: readonly string[];
}

/** Each node's distinct, existing dependencies as indices, and the reverse edges. */
function edges(nodes: readonly DagNode[]) {
  const indexOf = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (!indexOf.has(node.key)) indexOf.set(node.key, i);
  });
  const deps: number[][] = nodes.map((node) => [...new Set(node.dependsOn.flatMap((d) => (indexOf.has(d) ? [indexOf.get(d)!] : [])))]);
  const children: number[][] = nodes.map(() => []);
  deps.forEach((list, i) => list.forEach((d) => children[d]!.push(i)));
  return { indexOf, deps, children };
}

/** Kahn's algorithm, always taking the earliest ready step in manifest order (a min-heap of positions). */
export function topologicalOrder(nodes: readonly DagNode[]): string[] | { cycle: string[] } {
  const { deps, children } = edges(nodes);
  const waitingOn = deps.map((list) => list.length);
  const ready = new MinHeap();
  waitingOn.forEach((n, i) => n === 0 && ready.push(i));
  const order: string[] = [];
  const placed = new Uint8Array(nodes.length);
  while (ready.size > 0) {
    const next = ready.pop();
    order.push(nodes[next]!.key);
    placed[next] = 1;
    for (const child of children[next]!) if (--waitingOn[child]! === 0) ready.push(child);
  }
  if (order.length === nodes.length) return order;
  return { cycle: findCycle(nodes, deps, placed) };
}

/** One cycle among the nodes Kahn could not place, by an iterative depth-first search. */
function findCycle(nodes: readonly DagNode[], deps: number[][], placed: Uint8Array): string[] {
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the path, 2 done
  for (let root = 0; root < nodes.length; root++) {
    if (placed[root] || state[root]) continue;
    const path: number[] = [root];
    const next: number[] = [0];
    state[root] = 1;
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const list = deps[top]!;
      const i = next[next.length - 1]!;
      if (i >= list.length) {
        state[top] = 2;
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const dep = list[i]!;
      if (placed[dep]) continue;
      if (state[dep] === 1) {
        const cycle = [...path.slice(path.indexOf(dep)), dep].map((n) => nodes[n]!.key);
        return cycle.reverse();
      }
      if (state[dep] === 0) {
        state[dep] = 1;
        path.push(dep);
        next.push(0);
      }
    }
  }
  return [];
}

/**
 * Answers "is `target` upstream of `key`?" for the given targets only: one bitset per step over
 * the targets, filled in topological order. The cost is (steps + edges) × targets / 32, linear
 * for the few steps templates reference. Steps on a cycle have no answer (undefined).
 */
export function upstreamQuery(nodes: readonly DagNode[], targets: ReadonlySet<string>): (target: string, key: string) => boolean | undefined {
  const { indexOf, deps } = edges(nodes);
  const order = topologicalOrder(nodes);
  const ordered = Array.isArray(order) ? order : kahnPrefix(nodes, deps);
  const bit = new Map([...targets].filter((t) => indexOf.has(t)).map((t, i) => [t, i]));
  const words = Math.max(1, Math.ceil(bit.size / 32));
  const bits = new Uint32Array(nodes.length * words);
  const known = new Uint8Array(nodes.length);
  for (const key of ordered) {
    const v = indexOf.get(key)!;
    known[v] = 1;
    for (const u of deps[v]!) {
      for (let w = 0; w < words; w++) bits[v * words + w]! |= bits[u * words + w]!;
      const b = bit.get(nodes[u]!.key);
      if (b !== undefined) bits[v * words + (b >>> 5)]! |= 1 << (b & 31);
    }
  }
  return (target, key) => {
    const v = indexOf.get(key);
    const b = bit.get(target);
    if (v === undefined || !known[v]) return undefined;
    if (b === undefined) return false;
    return (bits[v * words + (b >>> 5)]! & (1 << (b & 31))) !== 0;
  };
}

/** The steps Kahn can place when there is a cycle, in order. */
function kahnPrefix(nodes: readonly DagNode[], deps: number[][]): string[] {
  const children: number[][] = nodes.map(() => []);
  deps.forEach((list, i) => list.forEach((d) => children[d]!.push(i)));
  const waitingOn = deps.map((list) => list.length);
  const queue = waitingOn.flatMap((n, i) => (n === 0 ? [i] : []));
  for (let head = 0; head < queue.length; head++) {
    for (const child of children[queue[head]!]!) if (--waitingOn[child]! === 0) queue.push(child);
  }
  return queue.map((i) => nodes[i]!.key);
}

/** A binary min-heap of non-negative integers. */
class MinHeap {
  private readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  push(value: number): void {
    const items = this.items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= value) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = value;
  }
  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && items[right]! < items[left]! ? right : left;
        if (items[child]! >= last) break;
        items[i] = items[child]!;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}
