// SPDX-License-Identifier: MIT
/** The generator's cost: a full regeneration in memory from the current header, against parsing the header alone. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { extractHeaderFacts } from '../codegen/src/header/extract.js';
import type { AbiLayouts } from '../codegen/src/layouts.js';
import { currentHeader, generate, LAYOUTS, ROOT, resolveWith } from '../codegen/src/pipeline.js';

export async function benchCodegen(rounds = 5): Promise<{ parseMs: number; regenerateMs: number; files: number }> {
  const header = currentHeader();
  const text = readFileSync(join(header.includeDir, 'linux/vfio.h'), 'utf8');
  const layouts = JSON.parse(readFileSync(join(ROOT, LAYOUTS), 'utf8')) as AbiLayouts;
  await extractHeaderFacts(text); // loads the wasm grammar once, outside the timings
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const parse: number[] = [];
  const regen: number[] = [];
  let files = 0;
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    await extractHeaderFacts(text);
    parse.push(performance.now() - t);
    t = performance.now();
    const facts = await extractHeaderFacts(text);
    files = generate(facts, layouts, resolveWith(facts, layouts, header.kernelVersion)).length;
    regen.push(performance.now() - t);
  }
  return { parseMs: median(parse), regenerateMs: median(regen), files };
}
