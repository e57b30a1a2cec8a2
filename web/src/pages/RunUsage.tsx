import type { Run } from '../api/types.js';

/**
 * The tokens a run's LLM calls used (the run's `usage`, SPEC §16): in all and by provider and
 * model, over every call of every attempt, failed and truncated ones included.
 */
export function RunUsage({ usage }: { usage: Run['usage'] | undefined }) {
  if (!usage || usage.calls === 0) return null;
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Token usage</h2>
      <p>
        {usage.prompt_tokens} tokens in → {usage.completion_tokens} out, over {usage.calls} LLM {usage.calls === 1 ? 'call' : 'calls'}
        {usage.tries > usage.calls ? ` (${usage.tries} tries)` : ''}
        {usage.calls_without_usage > 0 ? `; ${usage.calls_without_usage} without usage reported` : ''}.
      </p>
      <table class="usage">
        <caption class="visually-hidden">Tokens by provider and model</caption>
        <thead>
          <tr>
            <th scope="col">Provider:model</th>
            <th scope="col">Calls</th>
            <th scope="col">Tokens in</th>
            <th scope="col">Tokens out</th>
          </tr>
        </thead>
        <tbody>
          {usage.by_model.map((row) => (
            <tr key={`${row.provider}:${row.model}`}>
              <th scope="row">
                {row.provider}:{row.model}
              </th>
              <td>{row.calls}</td>
              <td>{row.prompt_tokens}</td>
              <td>{row.completion_tokens}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
