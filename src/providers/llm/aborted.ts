import { LlmCallError } from '../../core/llm.js';

/** The error every adapter throws when the caller's signal ended a call (the run was cancelled). */
export function abortedCall(requestBody: unknown, tries: number): LlmCallError {
  return new LlmCallError('the request was aborted because the run was cancelled', { kind: 'aborted', requestBody, tries });
}
