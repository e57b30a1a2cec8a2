/**
 * DAG planning: a deterministic topological order (ties broken by manifest order), cycle
 * detection, ancestors, and which steps are ready given what has finished.
 */

export interface DagNode {
  readonly key: string;
  readonly dependsOn: readonly string[];
}

/** Kahn's algorithm, always taking the earliest ready step in manifest order. */
export function topologicalOrder(nodes: readonly DagNode[]): string[] | { cycle: string[] } {
  const indexOf = new Map(nodes.map((node, i) => [node.key, i]));
  const remaining = new Map(nodes.map((node) => [node.key, new Set(node.dependsOn.filter((d) => indexOf.has(d)))]));
  const order: string[] = [];
  while (remaining.size > 0) {
    let next: string | undefined;
    for (const node of nodes) {
      const deps = remaining.get(node.key);
      if (deps && deps.size === 0) {
        next = node.key;
        break;
      }
    }
    if (next === undefined) return { cycle: findCycle(nodes, new Set(remaining.keys())) };
    order.push(next);
    remaining.delete(next);
    for (const deps of remaining.values()) deps.delete(next);
  }
  return order;
}

function findCycle(nodes: readonly DagNode[], within: Set<string>): string[] {
  const deps = new Map(nodes.map((node) => [node.key, node.dependsOn.filter((d) => within.has(d))]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const dfs = (key: string): string[] | undefined => {
    state.set(key, 'open');
    stack.push(key);
    for (const dep of deps.get(key) ?? []) {
      if (state.get(dep) === 'open') return [...stack.slice(stack.indexOf(dep)), dep];
      if (!state.has(dep)) {
        const found = dfs(dep);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(key, 'done');
    return undefined;
  };
  for (const node of nodes) {
    if (within.has(node.key) && !state.has(node.key)) {
      const found = dfs(node.key);
      if (found) return found.reverse();
    }
  }
  return [];
}

/** Every step a step transitively depends on. */
export function ancestorsOf(nodes: readonly DagNode[], key: string): Set<string> {
  const byKey = new Map(nodes.map((node) => [node.key, node]));
  const seen = new Set<string>();
  const pending = [...(byKey.get(key)?.dependsOn ?? [])];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (seen.has(next) || !byKey.has(next)) continue;
    seen.add(next);
    pending.push(...byKey.get(next)!.dependsOn);
  }
  return seen;
}
