import type { Run, StepRunDetail } from '../api/types.js';
import { AttestForm } from '../attest/AttestForm.js';
import { ErrorBox, Json, Loading, Status } from '../components/ui.js';
import { readContract } from '../contract.js';
import { bytes, when } from '../format.js';
import { useApp, useResource } from '../hooks.js';
import { atLeast } from '../session.js';

/**
 * One step run's evidence (GET /api/runs/{id}/steps/{step_run_id}): a task step's rendered
 * system prompt and prompt, LLM request and response with usage and latency, and parsed output, per attempt; a
 * compute step's contract and attestation with its artifacts and their verification. A step
 * waiting for attestation shows the attest form to operators.
 */
export function StepEvidence(props: { runId: string; stepRunId: string; onAttested: (run: Run) => void }) {
  const { session } = useApp();
  const detail = useResource((client) => client.get<StepRunDetail>(`/api/runs/${props.runId}/steps/${props.stepRunId}`), [props.runId, props.stepRunId]);
  const step = detail.data;
  if (detail.error) return <ErrorBox error={detail.error} />;
  if (!step) return <Loading what="the step's evidence" />;
  const contract = readContract(step.compute_contract);
  return (
    <section class="evidence" aria-labelledby="evidence-title">
      <h2 id="evidence-title">
        Step {step.step_key} <Status status={step.status} extra={step.overdue ? 'overdue' : undefined} />
      </h2>
      <dl class="facts">
        <dt>Type</dt>
        <dd>{step.step_type}</dd>
        <dt>Attempt</dt>
        <dd>{step.attempt}</dd>
        <dt>Started</dt>
        <dd>{when(step.started_at)}</dd>
        <dt>Ended</dt>
        <dd>{when(step.ended_at)}</dd>
        {step.due_at !== undefined && (
          <>
            <dt>Due</dt>
            <dd>{step.due_at ? when(step.due_at) : 'no deadline'}</dd>
          </>
        )}
      </dl>
      {step.error !== null && step.error !== undefined && (
        <>
          <h3>Error</h3>
          <Json value={step.error} label="Error" />
        </>
      )}
      {step.artifacts && <TaskEvidence artifacts={step.artifacts} />}
      {contract && (
        <>
          <h3>Contract</h3>
          <dl class="facts">
            <dt>Executor</dt>
            <dd>{contract.executor}</dd>
            <dt>Inputs</dt>
            <dd>{contract.inputs.map((i) => (i.from ? `${i.name} ← ${i.from}` : i.name)).join(', ') || 'none'}</dd>
            <dt>Outputs</dt>
            <dd>{contract.outputs.map((o) => o.name).join(', ') || 'none'}</dd>
            {contract.deadline && (
              <>
                <dt>Deadline</dt>
                <dd>{contract.deadline}</dd>
              </>
            )}
          </dl>
          {contract.instructions && <p class="instructions">{contract.instructions}</p>}
        </>
      )}
      {step.attestation && <AttestationView attestation={step.attestation} />}
      {step.status === 'WAITING_FOR_ATTESTATION' && contract && atLeast(session, 'operator') && (
        <AttestForm runId={props.runId} stepRunId={step.id} stepKey={step.step_key} outputs={contract.outputs.map((o) => o.name)} onAttested={props.onAttested} />
      )}
      {step.output !== null && step.output !== undefined && (
        <>
          <h3>Output</h3>
          <Json value={step.output} label={`Output of ${step.step_key}`} />
        </>
      )}
    </section>
  );
}

function TaskEvidence({ artifacts }: { artifacts: NonNullable<StepRunDetail['artifacts']> }) {
  return (
    <>
      {artifacts.prompts.map((prompt) => {
        const system = messagesOf(prompt.messages).find((message) => message.role === 'system');
        return (
          <details key={`p${prompt.attempt}`} open>
            <summary>Prompt (attempt {prompt.attempt})</summary>
            {system && (
              <>
                <h4>System prompt</h4>
                <pre class="json" tabIndex={0} aria-label="System prompt">
                  {system.content}
                </pre>
              </>
            )}
            <Json value={prompt.messages ?? prompt.template} label="Rendered prompt" />
            {prompt.error !== null && <Json value={prompt.error} label="Prompt error" />}
          </details>
        );
      })}
      {artifacts.llm_calls.map((call) => (
        <details key={`c${call.attempt}`}>
          <summary>
            LLM call (attempt {call.attempt}): {call.provider}:{call.model}, {call.latency_ms} ms, {call.tries} {call.tries === 1 ? 'try' : 'tries'}
            {usageText(call.usage)}
          </summary>
          <h4>Request</h4>
          <Json value={call.request} label="LLM request" />
          <h4>Response</h4>
          <Json value={call.response} label="LLM response" />
          {call.error !== null && (
            <>
              <h4>Error</h4>
              <Json value={call.error} label="LLM error" />
            </>
          )}
        </details>
      ))}
      {artifacts.parsed_outputs.map((parsed) => (
        <details key={`o${parsed.attempt}`} open>
          <summary>
            Parsed output (attempt {parsed.attempt}, {parsed.format})
          </summary>
          <Json value={parsed.error ?? parsed.value} label="Parsed output" />
        </details>
      ))}
    </>
  );
}

/** The rendered messages of a prompt artifact (system first, when the step has one). */
function messagesOf(messages: unknown): Array<{ role: string; content: string }> {
  if (!Array.isArray(messages)) return [];
  return messages.filter((m): m is { role: string; content: string } => typeof m === 'object' && m !== null && typeof m.role === 'string' && typeof m.content === 'string');
}

function usageText(usage: unknown): string {
  if (!usage || typeof usage !== 'object') return '';
  const u = usage as Record<string, unknown>;
  const input = u.prompt_tokens ?? u.input_tokens ?? u.inputTokens;
  const output = u.completion_tokens ?? u.output_tokens ?? u.outputTokens;
  return typeof input === 'number' && typeof output === 'number' ? `, ${input} → ${output} tokens` : '';
}

function AttestationView({ attestation }: { attestation: NonNullable<StepRunDetail['attestation']> }) {
  return (
    <>
      <h3>Attestation</h3>
      <dl class="facts">
        <dt>Outcome</dt>
        <dd>
          <Status status={attestation.outcome} />
        </dd>
        <dt>By</dt>
        <dd>{attestation.attested_by}</dd>
        <dt>At</dt>
        <dd>{when(attestation.attested_at)}</dd>
        {attestation.notes && (
          <>
            <dt>Notes</dt>
            <dd class="notes">{attestation.notes}</dd>
          </>
        )}
      </dl>
      {attestation.artifacts.length > 0 && (
        <table class="artifacts">
          <caption>Artifacts</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Digest and size</th>
              <th scope="col">Verified</th>
            </tr>
          </thead>
          <tbody>
            {attestation.artifacts.map((artifact) => (
              <tr key={artifact.name}>
                <th scope="row">
                  {artifact.name}
                  <div class="uri">{artifact.uri}</div>
                </th>
                <td>
                  <code class="sha" data-artifact={artifact.name}>
                    {artifact.sha256}
                  </code>
                  <div>
                    {artifact.bytes} bytes ({bytes(artifact.bytes)})
                  </div>
                </td>
                <td>{verificationText(artifact)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function verificationText(artifact: { verified?: boolean; verification?: unknown }): string {
  if (artifact.verified === undefined) return 'not checked by this server';
  if (artifact.verified) return 'yes: the server hashed the file';
  const reason = artifact.verification && typeof artifact.verification === 'object' ? (artifact.verification as { reason?: unknown }).reason : undefined;
  return `no${typeof reason === 'string' ? `: ${reason}` : ''}`;
}
