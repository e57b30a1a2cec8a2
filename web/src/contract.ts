/** Reading a compute_contract (SPEC §1) as the API returns it: loosely typed JSON. */

export interface ContractIo {
  readonly name: string;
  readonly from?: string;
  readonly description?: string;
}

export interface ContractView {
  readonly executor: string;
  readonly inputs: ContractIo[];
  readonly outputs: ContractIo[];
  readonly instructions?: string;
  readonly deadline?: string;
}

function io(list: unknown): ContractIo[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item): ContractIo[] => {
    if (typeof item === 'string') return [{ name: item }];
    if (item && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string') {
      const { name, from, description } = item as { name: string; from?: unknown; description?: unknown };
      return [{ name, ...(typeof from === 'string' ? { from } : {}), ...(typeof description === 'string' ? { description } : {}) }];
    }
    return [];
  });
}

export function readContract(contract: unknown): ContractView | undefined {
  if (!contract || typeof contract !== 'object') return undefined;
  const c = contract as Record<string, unknown>;
  const executor = typeof c.executor === 'string' ? c.executor : JSON.stringify(c.executor);
  return {
    executor,
    inputs: io(c.inputs),
    outputs: io(c.outputs),
    ...(typeof c.instructions === 'string' ? { instructions: c.instructions } : {}),
    ...(typeof c.deadline === 'string' ? { deadline: c.deadline } : {}),
  };
}
