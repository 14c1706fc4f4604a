// SPDX-License-Identifier: MIT
/** A readable API diff between two resolved specs, and the semver bump it implies for @vfio-ts/uapi. */
import { ARCHS, type SpecFamily } from './spec/model.js';

export type Bump = 'major' | 'minor' | 'patch';

export interface ApiDiff {
  readonly lines: readonly string[];
  readonly bump: Bump;
}

export function apiDiff(before: SpecFamily, after: SpecFamily): ApiDiff {
  const lines: string[] = [];
  let breaking = false;
  let additive = false;
  const removed = (what: string) => {
    lines.push(`- ${what}`);
    breaking = true;
  };
  const added = (what: string) => {
    lines.push(`+ ${what}`);
    additive = true;
  };
  const changed = (what: string) => {
    lines.push(`~ ${what}`);
    breaking = true;
  };

  const ioctlsBefore = new Map(before.ioctls.map((i) => [i.name, i]));
  const ioctlsAfter = new Map(after.ioctls.map((i) => [i.name, i]));
  for (const [name] of ioctlsBefore) if (!ioctlsAfter.has(name)) removed(`ioctl ${name}`);
  for (const [name, i] of ioctlsAfter) {
    const old = ioctlsBefore.get(name);
    if (old === undefined) {
      added(`ioctl ${name} (${i.fdKind}, ${i.iommu.join('/')})`);
      continue;
    }
    for (const arch of ARCHS) {
      const a = before.layouts[arch]?.ioctls[name];
      const b = after.layouts[arch]?.ioctls[name];
      if (a !== b) changed(`ioctl ${name} number on ${arch}: ${hex(a)} -> ${hex(b)}`);
    }
    if (JSON.stringify(old.arg) !== JSON.stringify(i.arg))
      changed(`ioctl ${name} argument: ${JSON.stringify(old.arg)} -> ${JSON.stringify(i.arg)}`);
  }

  const structsBefore = new Map(before.structs.map((s) => [s.name, s]));
  const structsAfter = new Map(after.structs.map((s) => [s.name, s]));
  for (const [name] of structsBefore) if (!structsAfter.has(name)) removed(`struct ${name}`);
  for (const [name, s] of structsAfter) {
    const old = structsBefore.get(name);
    if (old === undefined) {
      added(`struct ${name} (${s.members.length} members)`);
      continue;
    }
    const membersBefore = new Set(old.members.map((m) => m.name));
    const membersAfter = new Set(s.members.map((m) => m.name));
    for (const m of membersBefore) if (!membersAfter.has(m)) removed(`member ${name}.${m}`);
    for (const m of membersAfter) if (!membersBefore.has(m)) added(`member ${name}.${m}`);
    for (const arch of ARCHS) {
      const a = before.layouts[arch]?.structs[name];
      const b = after.layouts[arch]?.structs[name];
      if (a === undefined || b === undefined) continue;
      if (a.size !== b.size || a.align !== b.align)
        changed(`struct ${name} on ${arch}: size/align ${a.size}/${a.align} -> ${b.size}/${b.align}`);
      for (const m of membersAfter) {
        const x = a.members[m];
        const y = b.members[m];
        if (x !== undefined && y !== undefined && (x.offset !== y.offset || x.size !== y.size)) {
          changed(`member ${name}.${m} on ${arch}: offset/size ${x.offset}/${x.size} -> ${y.offset}/${y.size}`);
        }
      }
    }
  }

  const constantsBefore = new Map(before.constants.map((c) => [c.name, c.values.x86_64]));
  const constantsAfter = new Map(after.constants.map((c) => [c.name, c.values.x86_64]));
  for (const [name] of constantsBefore) if (!constantsAfter.has(name)) removed(`constant ${name}`);
  for (const [name, v] of constantsAfter) {
    const old = constantsBefore.get(name);
    if (old === undefined) added(`constant ${name} = ${v}`);
    else if (old !== v) changed(`constant ${name}: ${old} -> ${v}`);
  }
  return { lines, bump: breaking ? 'major' : additive ? 'minor' : 'patch' };
}

function hex(n: number | undefined): string {
  return n === undefined ? 'none' : `0x${n.toString(16)}`;
}
