import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import type { Manifest, Run, StepRun } from '../api/types.js';
import { RunActions } from '../components/actions.js';
import { ErrorBox, Loading, Status } from '../components/ui.js';
import { Dag, type DagStep } from '../dag/Dag.js';
import { shortId, when } from '../format.js';
import { useResource } from '../hooks.js';
import { RunHistory } from './RunHistory.js';
import { RunUsage } from './RunUsage.js';
import { StepEvidence } from './StepEvidence.js';

/** The latest attempt of each step (retries add step runs, SPEC §9). */
export function latestByKey(stepRuns: readonly StepRun[]): Map<string, StepRun> {
  const latest = new Map<string, StepRun>();
  for (const stepRun of stepRuns) {
    const seen = latest.get(stepRun.step_key);
    if (!seen || stepRun.attempt >= seen.attempt) latest.set(stepRun.step_key, stepRun);
  }
  return latest;
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
  const steps: DagStep[] = (manifest.data?.steps ?? []).map((step) => {
    const stepRun = latest.get(step.key);
    return { key: step.key, dependsOn: step.depends_on, type: step.step_type === 'compute' ? 'compute' : 'task', status: stepRun?.status, overdue: stepRun?.overdue ?? false };
  });
  const selectedKey = query.step ?? current.waiting_on[0]?.step_key ?? current.step_runs.at(-1)?.step_key;
  const selected = selectedKey ? latest.get(selectedKey) : undefined;
  const select = (key: string) => location.route(`/runs/${runId}?step=${encodeURIComponent(key)}`, true);

  const onAttested = (next: Run) => {
    const attested = next.step_runs.find((s) => s.id === selected?.id);
    setNotice(
      `Attested ${attested?.step_key ?? 'the step'}: ${attested?.status ?? 'recorded'}. ` +
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
          Waiting for an attestation of {current.waiting_on.map((w) => w.step_key).join(', ')}.
        </p>
      )}
      <ErrorBox error={manifest.error} />
      {steps.length > 0 ? <Dag steps={steps} selected={selectedKey} onSelect={select} direction={narrow ? 'TB' : 'LR'} /> : <Loading what="the graph" />}
      {selected ? (
        <StepEvidence key={`${selected.id}:${selected.status}`} runId={current.id} stepRunId={selected.id} onAttested={onAttested} />
      ) : (
        selectedKey && <p class="muted">Step {selectedKey} has not started in this run.</p>
      )}
      <RunUsage usage={current.usage} />
      <RunHistory run={current} />
    </main>
  );
}
