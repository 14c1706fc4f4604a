// SPDX-License-Identifier: MIT
import { ARCHS, type Arch, type IoctlSpec, ioctls } from '@vfio-ts/uapi';

/** The generated ioctl catalogue: every VFIO ioctl with its fd kind, IOMMU backend, argument and numbers per ABI. */
export function catalogue(options: { json?: boolean } = {}): string {
  const rows = Object.values(ioctls as Record<string, IoctlSpec>);
  if (options.json) return JSON.stringify(rows, null, 2);
  const hex = (n: number) => `0x${n.toString(16)}`;
  const arg = (i: IoctlSpec) =>
    i.arg.kind === 'struct' ? `struct ${i.arg.struct}` : i.arg.kind === 'none' ? '-' : i.arg.kind;
  const header = ['ioctl', 'fd', 'iommu', 'argument', ...ARCHS];
  const table = rows.map((i) => [
    i.name,
    i.fdKind,
    i.iommu.join('/'),
    arg(i),
    ...ARCHS.map((a: Arch) => hex(i.request[a])),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n');
}
