// SPDX-License-Identifier: MIT
/** Output for the `vfio-ts` command: colours that switch off for pipes and NO_COLOR, and small formatters. */
import { stripVTControlCharacters } from 'node:util';
import picocolors from 'picocolors';

export type Colors = ReturnType<typeof picocolors.createColors>;

/** Where a command writes, and whether colour is wanted there. Tests pass their own. */
export interface Output {
  write(text: string): void;
  readonly colors: Colors;
}

/**
 * Colour only for a terminal, never with NO_COLOR set (https://no-color.org), always with FORCE_COLOR set
 * (a non-empty value other than '0').
 */
export function colorEnabled(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function createOutput(write: (text: string) => void, color: boolean): Output {
  return { write, colors: picocolors.createColors(color) };
}

export function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/** 4096 → "4 KiB", 1073741824n → "1 GiB"; exact units only, else bytes. */
export function bytes(value: bigint | number): string {
  const v = BigInt(value);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let n = v;
  let u = 0;
  while (n !== 0n && n % 1024n === 0n && u < units.length - 1) {
    n /= 1024n;
    u++;
  }
  return `${n} ${units[u]}`;
}

/** The sizes a page-size bitmap allows: 0x40201000 → "4 KiB, 2 MiB, 1 GiB". */
export function pageSizes(bitmap: bigint): string {
  const out: string[] = [];
  for (let bit = 0n; bit < 64n; bit++) if ((bitmap >> bit) & 1n) out.push(bytes(1n << bit));
  return out.join(', ');
}

/** A plain left-aligned table (cells may carry colour codes; widths count visible characters only). */
export function table(header: readonly string[], rows: readonly (readonly string[])[], indent = '    '): string {
  const visible = (s: string) => stripVTControlCharacters(s).length;
  const widths = header.map((h, c) => Math.max(visible(h), ...rows.map((r) => visible(r[c] ?? ''))));
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((cell, c) => cell + ' '.repeat(Math.max(0, widths[c]! - visible(cell))))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Printable bytes as text, the rest as \xNN. */
export function showBytes(data: Uint8Array): string {
  let s = '';
  for (const b of data)
    s += b >= 0x20 && b < 0x7f && b !== 0x22 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return `"${s}"`;
}
