import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import type { Manifest, Run, StepRun } from '../api/types.js';
import { RunActions } from '../components/actions.js';
import { ErrorBox, Loading, Status } from '../components/ui.js';
import { Dag, type DagStep } from '../dag/Dag.js';
import { shortId, when } from '../format.js';
import { useResource } from '../hooks.js';
import { MapItems, mapStatus } from './MapItems.js';
import { RunHistory } from './RunHistory.js';
import { RunUsage } from './RunUsage.js';
import { StepEvidence } from './StepEvidence.js';

/** The latest attempt of each step, and of each item of a map step as `B[3]` (retries add step runs, SPEC §9). */
export function latestByKey(stepRuns: readonly StepRun[]): Map<string, StepRun> {
  const latest = new Map<string, StepRun>();
  for (const stepRun of stepRuns) {
    const name = stepRun.item_index === null ? stepRun.step_key : `${stepRun.step_key}[${stepRun.item_index}]`;
    const seen = latest.get(name);
    if (!seen || stepRun.attempt >= seen.attempt) latest.set(name, stepRun);
  }
  return latest;
}

/** The latest step run of each item of map step `key`, in item order. */
function itemsOf(latest: Map<string, StepRun>, key: string): StepRun[] {
  return [...latest.values()].filter((s) => s.step_key === key && s.item_index !== null).sort((a, b) => a.item_index! - b.item_index!);
}

function useNarrow(): boolean {
  const query = '(max-width: 640px)';
  const [narrow, setNarrow] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const list = matchMedia(query);
    const change = () => setNarrow(list.matches);
    list.addEventListener('change', change);
    return () => list.removeEventListener('change', change);
  }, []);
  return narrow;
}

/** A run: its DAG, its state and actions, and the evidence of the selected step. */
export function RunPage() {
  const { params, query } = useRoute();
  const location = useLocation();
  const runId = params.id ?? '';
  const run = useResource((client) => client.get<Run>(`/api/runs/${runId}`), [runId]);
  const manifestId = run.data?.manifest_id;
  const manifest = useResource((client) => (manifestId ? client.get<Manifest>(`/api/manifests/${manifestId}`) : Promise.resolve(undefined)), [manifestId]);
  const [notice, setNotice] = useState<string | undefined>();
  const narrow = useNarrow();

  if (run.error && !run.data) return <main id="main"><h1>Run {shortId(runId)}</h1><ErrorBox error={run.error} /></main>;
  if (!run.data) return <main id="main"><Loading what="the run" /></main>;
  const current = run.data;
  const latest = latestByKey(current.step_runs);
  const maps = new Map((current.map_steps ?? []).map((map) => [map.step_key, map]));
  const steps: DagStep[] = (manifest.data?.steps ?? []).map((step) => {
    const type = step.step_type === 'compute' ? 'compute' : 'task';
    const map = maps.get(step.key);
    if (map) {
      const items = itemsOf(latest, step.key);
      return { key: step.key, dependsOn: step.depends_on, type, status: mapStatus(map, current.step_runs.filter((s) => s.step_key === step.key)), overdue: items.some((s) => s.overdue), items: { done: map.done, total: map.total } };
    }
    const stepRun = latest.get(step.key);
    return { key: step.key, dependsOn: step.depends_on, type, status: stepRun?.status, overdue: stepRun?.overdue ?? false };
  });
  const firstWait = current.waiting_on[0];
  const selectedKey = query.step ?? firstWait?.step_key ?? current.step_runs.at(-1)?.step_key;
  const selectedMap = selectedKey ? maps.get(selectedKey) : undefined;
  const itemParam = query.item ?? (selectedKey === firstWait?.step_key && firstWait?.item_index !== undefined ? String(firstWait.item_index) : undefined);
  const selectedItem = selectedMap && itemParam !== undefined && /^\d+$/.test(itemParam) ? Number(itemParam) : undefined;
  const selected = selectedKey ? latest.get(selectedItem === undefined ? selectedKey : `${selectedKey}[${selectedItem}]`) : undefined;
  const select = (key: string) => location.route(`/runs/${runId}?step=${encodeURIComponent(key)}`, true);
  const selectItem = (key: string, itemIndex: number) => location.route(`/runs/${runId}?step=${encodeURIComponent(key)}&item=${itemIndex}`, true);

  const onAttested = (next: Run) => {
    const attested = next.step_runs.find((s) => s.id === selected?.id);
    const name = attested ? (attested.item_index === null ? attested.step_key : `${attested.step_key}[${attested.item_index}]`) : 'the step';
    setNotice(
      `Attested ${name}: ${attested?.status ?? 'recorded'}. ` +
        (next.status === 'waiting' && next.waiting_on.length === 0 ? 'Every wait of this run is attested: it is ready to resume.' : `The run is ${next.status}.`),
    );
    void run.reload();
  };

  return (
    <main id="main" class="run-page">
      <div class="page-head">
        <h1>
          Run {shortId(current.id)} <Status status={current.stalled ? 'stalled' : current.status} extra={current.ready_to_resume ? 'ready to resume' : undefined} />
        </h1>
        {manifest.data && (
          <p class="muted">
            <a href={`/manifests/${manifest.data.id}`}>
              {manifest.data.name} v{manifest.data.version}
            </a>{' '}
            · started {when(current.started_at)}
            {current.ended_at ? ` · ended ${when(current.ended_at)}` : ''}
          </p>
        )}
      </div>
      {notice && (
        <p role="status" class="success-box">
          {notice}
        </p>
      )}
      <RunActions
        run={current}
        onDone={() => {
          setNotice(undefined);
          void run.reload();
        }}
      />
      {current.waiting_on.length > 0 && (
        <p class="notice">
          Waiting for an attestation of {current.waiting_on.map((w) => (w.item_index === undefined ? w.step_key : `${w.step_key}[${w.item_index}]`)).join(', ')}.
        </p>
      )}
      <ErrorBox error={manifest.error} />
      {steps.length > 0 ? <Dag steps={steps} selected={selectedKey} onSelect={select} direction={narrow ? 'TB' : 'LR'} /> : <Loading what="the graph" />}
      {selectedMap && selectedKey && (
        <MapItems stepKey={selectedKey} progress={selectedMap} items={itemsOf(latest, selectedKey)} selected={selectedItem} onSelect={(itemIndex) => selectItem(selectedKey, itemIndex)} />
      )}
      {selected ? (
        <StepEvidence key={`${selected.id}:${selected.status}`} runId={current.id} stepRunId={selected.id} onAttested={onAttested} />
      ) : (
        selectedKey && !selectedMap && <p class="muted">Step {selectedKey} has not started in this run.</p>
      )}
      <RunUsage usage={current.usage} />
      <RunHistory run={current} />
    </main>
  );
}
