import { startRun } from '../src/engine/runs.js';
import { storeManifest } from '../src/engine/manifests.js';
import type { BenchDatabase } from './databases.js';
import { benchDeps } from './engine.js';
import type { Measurement } from './report.js';
import { median } from './stats.js';

/**
 * Map steps (SPEC §17) with the offline provider, in process: a map over N items against a
 * chain of task steps — the time per item beside the per-step overhead of the chain (goal:
 * within 1.5×), and the statements per item (goal: about one write per item).
 */
export async function mapBenchmarks(db: BenchDatabase, quick: boolean): Promise<Measurement[]> {
  const deps = benchDeps(db);
  const database = db.name;
  const items = quick ? 200 : 1000;
  const chainLength = 100;
  const { manifest: chain } = await storeManifest(deps, {
    name: 'bench-map-chain',
    steps: Array.from({ length: chainLength }, (_, i) => ({ key: `s${i}`, ...(i > 0 ? { depends_on: [`s${i - 1}`] } : {}), prompt: `step ${i} for {{inputs.tag}}` })),
  });
  const { manifest: map } = await storeManifest(deps, { name: 'bench-map', steps: [{ key: 'M', for_each: 'inputs.docs', prompt: 'summarize {{item}} for {{inputs.tag}}' }] });
  const docs = Array.from({ length: items }, (_, i) => `doc-${i}`);
  await startRun(deps, { manifestId: chain.id, inputs: { tag: 'warm' } });
  await startRun(deps, { manifestId: map.id, inputs: { tag: 'warm', docs: docs.slice(0, 10) } });

  const perStep: number[] = [];
  const perItem: number[] = [];
  let statementsPerItem: number | undefined;
  for (let r = 0; r < (quick ? 2 : 3); r++) {
    let began = performance.now();
    const chained = await startRun(deps, { manifestId: chain.id, inputs: { tag: `c${r}` } });
    perStep.push((performance.now() - began) / chainLength);
    if (chained.run.status !== 'success') throw new Error(`the chain ended ${chained.run.status}`);

    const before = db.statements();
    began = performance.now();
    const mapped = await startRun(deps, { manifestId: map.id, inputs: { tag: `m${r}`, docs } });
    perItem.push((performance.now() - began) / items);
    if (mapped.run.status !== 'success') throw new Error(`the map ended ${mapped.run.status}`);
    if (before !== undefined) statementsPerItem = (db.statements()! - before) / items;
  }
  const step = median(perStep);
  const item = median(perItem);
  const figures: Measurement[] = [
    { name: `map step over ${items} items (offline): time per item`, database, value: item, unit: 'ms' },
    { name: `chain of ${chainLength} task steps (offline): time per step`, database, value: step, unit: 'ms' },
    { name: `map step over ${items} items: time per item / per step of a chain`, database, value: item / step, unit: '×', goal: { text: '≤ 1.5×', meets: (v) => v <= 1.5 } },
  ];
  if (statementsPerItem !== undefined) {
    figures.push({ name: `map step over ${items} items: statements per item`, database, value: statementsPerItem, unit: 'statements', goal: { text: '≈ 1 (≤ 1.2)', meets: (v) => v <= 1.2 } });
  }
  return figures;
}
