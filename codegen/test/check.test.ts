// SPDX-License-Identifier: MIT
/** The checked-in generated files are exactly what the generator makes from the vendored header and layouts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AbiLayouts } from '../src/layouts.js';
import { currentHeader, factsOf, generate, LAYOUTS, ROOT, resolveWith, UAPI_GENERATED } from '../src/pipeline.js';
import { writeFiles } from '../src/write.js';

describe('generated code', () => {
  it('is up to date with spec/vfio.yaml and the current vendored header (npm run codegen -- --check)', async () => {
    const header = currentHeader();
    const facts = await factsOf(header);
    const layouts = JSON.parse(readFileSync(join(ROOT, LAYOUTS), 'utf8')) as AbiLayouts;
    const files = generate(facts, layouts, resolveWith(facts, layouts, header.kernelVersion));
    const result = writeFiles(ROOT, files, [UAPI_GENERATED], true);
    expect(result.changed, 'run npm run codegen and commit').toEqual([]);
    expect(result.stale).toEqual([]);
    expect(files.length).toBeGreaterThan(5);
  });
});
