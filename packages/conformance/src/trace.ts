// SPDX-License-Identifier: MIT
/**
 * Traces: what each step of a scenario run sent and got back, normalised so that two runs of the same scenario on
 * two backends (the real kernel and the simulator) can be compared byte for byte. See FORMAT.md "Traces".
 */
import type { Mode } from './types.js';

export interface TraceEntry {
  /** Index of the step in the scenario. */
  readonly step: number;
  readonly op: string;
  /** The fd handle (`C`, `G`, `D`), the group (`group[0]`), or the literal fd number for bad-fd scenarios. */
  readonly target?: string;
  readonly ioctl?: string;
  /** The argument as sent: hex, with bytes that hold user addresses or fd numbers as `..` (see `refs`). */
  readonly argIn?: string;
  /** What the masked bytes held, symbolically: `vaddr=B+0x10000`, `fd=C`. */
  readonly refs?: readonly string[];
  /** The return value (`'fd'` for a new fd, `'addr'` for a mapping), or absent on error. */
  readonly ret?: number | 'fd' | 'addr';
  readonly errno?: string;
  /** The argument buffer after the call, normalised like `argIn`. */
  readonly argOut?: string;
  /** Observations of non-ioctl steps: locked memory delta, DMA outcome. */
  readonly observed?: string;
}

export type ScenarioStatus = 'passed' | 'failed' | 'skipped';

export interface ScenarioResult {
  readonly scenario: string;
  readonly mode: Mode;
  readonly arch: string;
  readonly target: 'sim' | 'kernel';
  readonly status: ScenarioStatus;
  /** For `skipped`: why (a missing feature, or the real-kernel hazard). */
  readonly reason?: string;
  /** For `failed`: the first unmet expectation. */
  readonly error?: string;
  readonly trace: readonly TraceEntry[];
}

const hexByte = (b: number): string => b.toString(16).padStart(2, '0');

/** Hex of `bytes`, with each masked byte range as `..` per byte. */
export function maskedHex(bytes: Uint8Array, masks: readonly (readonly [number, number])[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const masked = masks.some(([start, length]) => i >= start && i < start + length);
    out += masked ? '..' : hexByte(bytes[i] as number);
  }
  return out;
}

/** One difference between two traces of the same scenario and mode. */
export interface TraceDifference {
  readonly scenario: string;
  readonly mode: Mode;
  readonly step: number | 'status';
  readonly what: string;
  readonly kernel: string;
  readonly sim: string;
}

const fields = ['op', 'target', 'ioctl', 'argIn', 'refs', 'ret', 'errno', 'argOut', 'observed'] as const;

function show(value: unknown): string {
  if (value === undefined) return '-';
  return Array.isArray(value) ? value.join(',') : String(value);
}

/**
 * Compares a real-kernel trace with a simulator trace of the same scenario. Steps are compared in order, field by
 * field; a trace that stops early (a failed expectation) differs at the first step the other one has and it lacks.
 */
export function compareTraces(kernel: ScenarioResult, sim: ScenarioResult): TraceDifference[] {
  const diffs: TraceDifference[] = [];
  const base = { scenario: kernel.scenario, mode: kernel.mode };
  if (kernel.status !== sim.status) {
    diffs.push({
      ...base,
      step: 'status',
      what: 'status',
      kernel: `${kernel.status}${kernel.error ? `: ${kernel.error}` : ''}${kernel.reason ? ` (${kernel.reason})` : ''}`,
      sim: `${sim.status}${sim.error ? `: ${sim.error}` : ''}${sim.reason ? ` (${sim.reason})` : ''}`,
    });
  }
  if (kernel.status === 'skipped' || sim.status === 'skipped') return diffs;
  const n = Math.max(kernel.trace.length, sim.trace.length);
  for (let i = 0; i < n; i++) {
    const k = kernel.trace[i];
    const s = sim.trace[i];
    if (k === undefined || s === undefined) {
      diffs.push({
        ...base,
        step: (k ?? s)?.step ?? i,
        what: 'step present in one trace only',
        kernel: k ? `${k.op} ${k.ioctl ?? ''}` : '-',
        sim: s ? `${s.op} ${s.ioctl ?? ''}` : '-',
      });
      break;
    }
    for (const f of fields) {
      const a = show(k[f]);
      const b = show(s[f]);
      if (a !== b) diffs.push({ ...base, step: k.step, what: `${k.ioctl ?? k.op} ${f}`, kernel: a, sim: b });
    }
  }
  return diffs;
}

/** A difference that is understood: the real kernel contradicts its documentation, or the machines differ. */
export interface KnownDifference {
  readonly scenario: string | RegExp;
  readonly mode?: Mode;
  /** Matches `TraceDifference.what`. */
  readonly what?: string | RegExp;
  /** The explanation, as in DIFFERENCES.md. */
  readonly reason: string;
}

export function explain(diff: TraceDifference, known: readonly KnownDifference[]): KnownDifference | undefined {
  const match = (p: string | RegExp | undefined, v: string): boolean =>
    p === undefined || (typeof p === 'string' ? p === v : p.test(v));
  return known.find(
    (k) =>
      match(k.scenario, diff.scenario) && (k.mode === undefined || k.mode === diff.mode) && match(k.what, diff.what),
  );
}
