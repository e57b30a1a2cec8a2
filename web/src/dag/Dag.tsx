import { useMemo } from 'preact/hooks';
import { layoutDag, type DagNodeInput } from './layout.js';

export interface DagStep extends DagNodeInput {
  /** The latest step run's status, or undefined when the step has not started. */
  readonly status: string | undefined;
  readonly type: 'task' | 'compute';
  readonly overdue?: boolean;
  /** A map step's items (SPEC §17): how many are done of how many (null until its list is known). */
  readonly items?: { readonly done: number; readonly total: number | null };
}

/**
 * The run's DAG, laid out by dagre and drawn as SVG: each step coloured by status, waits
 * highlighted. Each node is a button (Enter or Space selects it) that opens its evidence.
 */
export function Dag(props: { steps: readonly DagStep[]; selected: string | undefined; onSelect: (key: string) => void; direction?: 'LR' | 'TB' }) {
  // Laid out again only when the graph's shape changes, not when a status does.
  const shape = JSON.stringify(props.steps.map((s) => [s.key, s.dependsOn]));
  const placed = useMemo(() => layoutDag(props.steps, props.direction), [shape, props.direction]);
  const byKey = new Map(props.steps.map((s) => [s.key, s]));
  return (
    <div class="dag-scroll">
      <svg class="dag" viewBox={`0 0 ${placed.width} ${placed.height}`} width={placed.width} height={placed.height} role="group" aria-label="The run's steps as a graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="dag-arrow" />
          </marker>
        </defs>
        {placed.edges.map((edge) => (
          <polyline key={`${edge.from}->${edge.to}`} class="dag-edge" points={edge.points.map((p) => `${p.x},${p.y}`).join(' ')} marker-end="url(#arrow)" />
        ))}
        {placed.nodes.map((node) => {
          const step = byKey.get(node.key)!;
          const status = step.status ?? 'NOT_STARTED';
          const waiting = status === 'WAITING_FOR_ATTESTATION';
          // "waiting", not "waiting for attestation": the names of SPEC §14's buttons (Attest) must stay unique.
          const said = waiting ? 'waiting' : status.toLowerCase().replaceAll('_', ' ');
          const items = step.items ? `${step.items.done}/${step.items.total ?? '?'}` : undefined;
          const label = `Step ${node.key}, ${step.type}${items ? ' map' : ''}, ${said}${step.overdue ? ', overdue' : ''}${items ? `, ${items} items done` : ''}`;
          return (
            <g
              key={node.key}
              class={`dag-node status-${status.toLowerCase()}${waiting ? ' waiting' : ''}${props.selected === node.key ? ' selected' : ''}`}
              transform={`translate(${node.x},${node.y})`}
              role="button"
              // `tabindex`, not `tabIndex`: Preact sets SVG props as attributes under the name
              // given, and SVG knows only the lower-case one (`tabIndex` left the node out of the
              // Tab order).
              tabindex={0}
              aria-label={label}
              aria-pressed={props.selected === node.key}
              data-step={node.key}
              onClick={() => props.onSelect(node.key)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  props.onSelect(node.key);
                }
              }}
            >
              <rect width={node.width} height={node.height} rx="8" />
              <text x="10" y="21" class="dag-key">
                {node.key}
              </text>
              <text x="10" y="40" class="dag-status">
                {step.type === 'compute' ? '⚙ ' : ''}
                {items ? `${items} · ` : ''}
                {said}
                {step.overdue ? ' · overdue' : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
