import type { Run, StepRun } from '../api/types.js';
import { Status } from '../components/ui.js';

/** Where a map step's items stand (the run view's `map_steps`). */
export type MapProgress = Run['map_steps'][number];

/** A map step's status over its items, as the runner reads it: failed, waiting or running while one is; done when all are. */
export function mapStatus(progress: MapProgress, stepRuns: readonly StepRun[]): string | undefined {
  if (progress.failed > 0) return 'FAIL';
  if (progress.waiting > 0) return 'WAITING_FOR_ATTESTATION';
  if (progress.running > 0) return 'RUNNING';
  if (progress.total !== null && progress.done === progress.total) return 'SUCCESS';
  if (progress.cancelled > 0) return 'CANCELLED';
  // A list that is not one settles the step itself (one step run, no item).
  return stepRuns.find((s) => s.item_index === null)?.status;
}

/** `{"id":"S-2"}` → a short line. */
function brief(item: unknown): string {
  const text = typeof item === 'string' ? item : JSON.stringify(item);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/**
 * The items of a map step (SPEC §17): each item's latest step run, with its status; selecting
 * one opens its evidence (and, for a compute item waiting, the attest form).
 */
export function MapItems(props: { stepKey: string; progress: MapProgress; items: readonly StepRun[]; selected: number | undefined; onSelect: (itemIndex: number) => void }) {
  const { progress } = props;
  return (
    <section class="map-items" aria-labelledby="map-items-title">
      <h2 id="map-items-title">
        Items of {props.stepKey}: {progress.done}/{progress.total ?? '?'} done
      </h2>
      {props.items.length === 0 ? (
        <p class="muted">{progress.total === 0 ? 'Its list is empty: the step succeeded with [].' : 'No item has started yet.'}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Item</th>
              <th scope="col">Value</th>
              <th scope="col">Status</th>
              <th scope="col">Attempt</th>
            </tr>
          </thead>
          <tbody>
            {props.items.map((stepRun) => (
              <tr key={stepRun.id} class={props.selected === stepRun.item_index ? 'selected' : ''}>
                <td>
                  <button type="button" class="link" aria-pressed={props.selected === stepRun.item_index} onClick={() => props.onSelect(stepRun.item_index!)}>
                    {props.stepKey}[{stepRun.item_index}]
                  </button>
                </td>
                <td>
                  <code>{brief(stepRun.item)}</code>
                </td>
                <td>
                  <Status status={stepRun.status} extra={stepRun.overdue ? 'overdue' : undefined} />
                </td>
                <td>{stepRun.attempt}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
