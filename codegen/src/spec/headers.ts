// SPDX-License-Identifier: MIT
/** Which uapi headers spec/vfio.yaml covers: read by the pipeline (facts, probe) and by vendoring (what to pin). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const SPEC_PATH: string = fileURLToPath(new URL('../../../spec/vfio.yaml', import.meta.url));

export interface SpecHeader {
  /** `linux/vfio.h`, relative to an include directory. */
  readonly path: string;
  /** The first vendored header set that has it; absent: every one does. */
  readonly since?: string;
}

export function specHeaders(specPath: string = SPEC_PATH): SpecHeader[] {
  return (parse(readFileSync(specPath, 'utf8')) as { headers: SpecHeader[] }).headers;
}
