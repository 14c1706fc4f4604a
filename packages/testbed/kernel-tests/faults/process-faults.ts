// SPDX-License-Identifier: MIT
/**
 * Real-kernel faults, run by `npm run test:kernel` in a boot of their own with the /dev/vfio nodes made world-
 * accessible (devVfioMode '666'):
 *  - a process SIGKILLed while it holds live DMA state (sPAPR: registered memory, a created window, mappings in
 *    the default and the created window; type1: mappings) — afterwards the group opens again, the whole sequence
 *    works again in a new process (a window slot the dead process held is free again), and the dead process's
 *    charge went with it (its VmLck was > 0 while it lived; our own VmLck is back to where it was);
 *  - the locked-memory limit reached without CAP_IPC_LOCK (a child that lowers RLIMIT_MEMLOCK and switches to an
 *    unprivileged uid/gid before opening the container): REGISTER (sPAPR) / MAP_DMA (type1) → ENOMEM with VmLck
 *    still 0, and the same call within the limit succeeds (so the limit is what refused it).
 * Children are this same guest entry re-executed with VFIO_TS_FAULT_CHILD set: this module's top level then runs
 * the child's part and exits before the suite runner starts.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { type Backend, Container, Group, type Spapr, type Type1 } from '@vfio-ts/core';
import { systemConstants } from '@vfio-ts/uapi';
import { defineKernelTests, type KernelTestContext } from '../../src/define.js';

const MiB = 1 << 20;

function vmLckKiB(pid: number | 'self' = 'self'): number {
  const match = /^VmLck:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmLck in /proc/${pid}/status`);
  return Number(match[1]);
}

interface LiveState {
  container: Container;
  group: Group;
}

/** The DMA state the SIGKILL test leaves live: registered memory, a created window, mappings in both windows. */
function buildLiveState(backend: Backend, groupPath: string): LiveState {
  const container = Container.open(backend);
  const group = Group.open(backend, groupPath);
  group.setContainer(container);
  const iommu = container.setIommu('auto') as Type1 | Spapr;
  const a = container.allocateDma(MiB);
  const b = container.allocateDma(MiB);
  if (iommu.model === 'type1v2' || iommu.model === 'type1') {
    (iommu as Type1).map(a);
    (iommu as Type1).map(b);
  } else {
    const spapr = iommu as Spapr;
    spapr.registerMemory(a);
    spapr.registerMemory(b);
    spapr.map(a, { iova: 0n });
    const window = spapr.createWindow({ pageShift: 12, windowSize: 1n << 30n });
    spapr.map(b, { window });
  }
  return { container, group };
}

// ---------------------------------------------------------------------------------------------------------------
// Child side.

function setRlimitMemlock(koffi: any, bytes: bigint): void {
  const libc = koffi.load('libc.so.6');
  const setrlimit = libc.func('int setrlimit(int resource, const uint8_t *rlim)');
  const errnoLoc = libc.func('int *__errno_location()');
  // struct rlimit { rlim_t rlim_cur, rlim_max } with rlim_t an unsigned long (8 bytes on both 64-bit guests).
  const rlim = Buffer.alloc(16);
  const le = endianness() === 'LE';
  (le ? rlim.writeBigUInt64LE : rlim.writeBigUInt64BE).call(rlim, bytes, 0);
  (le ? rlim.writeBigUInt64LE : rlim.writeBigUInt64BE).call(rlim, bytes, 8);
  const arch = process.arch === 'ppc64' ? 'ppc64le' : 'x86_64';
  if (setrlimit(systemConstants(arch as never).RLIMIT_MEMLOCK, rlim) !== 0)
    throw new Error(`setrlimit(RLIMIT_MEMLOCK) failed, errno ${koffi.decode(errnoLoc(), 'int')}`);
}

async function childMain(role: string): Promise<void> {
  const out = (v: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(v)}\n`);
  try {
    const { createKoffiBackend } = await import('@vfio-ts/backend-koffi');
    const groupPath = process.env.VFIO_TS_FAULT_GROUP!;
    if (role === 'hold') {
      const backend = createKoffiBackend();
      buildLiveState(backend, groupPath);
      out({ ready: true, pid: process.pid, vmLckKiB: vmLckKiB() });
      // Stay alive with everything live until SIGKILL.
      setInterval(() => {}, 1 << 30);
      return;
    }
    if (role === 'memlock') {
      const koffi = (await import('koffi' as string)).default;
      const limit = 64 * 1024;
      setRlimitMemlock(koffi, BigInt(limit));
      process.setgroups?.([]);
      process.setgid?.(65534);
      process.setuid?.(65534);
      const backend = createKoffiBackend();
      const container = Container.open(backend);
      const group = Group.open(backend, groupPath);
      group.setContainer(container);
      const iommu = container.setIommu('auto') as Type1 | Spapr;
      const spapr = iommu.model === 'spapr-v2' || iommu.model === 'spapr';
      const big = container.allocateDma(MiB);
      let code = 'OK';
      try {
        if (spapr) (iommu as Spapr).registerMemory(big);
        else (iommu as Type1).map(big);
      } catch (e) {
        code = (e as { code?: string }).code ?? String(e);
      }
      const afterRefusal = vmLckKiB();
      big.free();
      // Within the limit: the same call succeeds (sPAPR: 16 pages registered; type1: 16 pages mapped).
      const small = container.allocateDma(limit);
      if (spapr) (iommu as Spapr).registerMemory(small);
      else (iommu as Type1).map(small);
      const withinLimit = vmLckKiB();
      container.close();
      group.close();
      out({ uid: process.getuid?.(), model: iommu.model, code, afterRefusal, withinLimit, afterClose: vmLckKiB() });
      process.exit(0);
    }
    throw new Error(`unknown child role ${role}`);
  } catch (e) {
    out({ error: String((e as Error)?.stack ?? e), code: (e as { code?: string }).code });
    process.exit(1);
  }
}

const childRole = process.env.VFIO_TS_FAULT_CHILD;
if (childRole !== undefined) {
  await childMain(childRole);
  // 'hold' never returns from here in practice: block the suite runner until SIGKILL.
  await new Promise(() => {});
}

// ---------------------------------------------------------------------------------------------------------------
// Parent side.

function startChild(role: string, groupPath: string) {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!], {
    env: { ...process.env, VFIO_TS_FAULT_CHILD: role, VFIO_TS_FAULT_GROUP: groupPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += String(d);
  });
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const firstLine = async (timeoutMs: number): Promise<Record<string, unknown>> => {
    const t0 = Date.now();
    while (!stdout.includes('\n')) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`child ${role} said nothing in ${timeoutMs} ms; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const line = stdout.split('\n').find((l) => l.startsWith('{'));
    if (line === undefined)
      throw new Error(`child ${role} printed no result; stdout ${stdout}; stderr ${stderr.slice(-2000)}`);
    const v = JSON.parse(line) as Record<string, unknown>;
    if (v.error !== undefined) throw new Error(`child ${role} failed: ${String(v.error)}`);
    return v;
  };
  return { child, exited, firstLine };
}

function groupOf(ctx: KernelTestContext): string {
  const d = ctx.devices.find((x) => x.model === 'edu') ?? ctx.devices[0];
  if (d === undefined) return ctx.skip('no device is bound to vfio-pci');
  return d.groupPath;
}

export const faults = defineKernelTests('faults', {
  'SIGKILL with registered memory, windows and mappings live: the group works again and the charge is gone': {
    only: 'kernel',
    timeoutMs: 120_000,
    run: async (backend, ctx) => {
      const groupPath = groupOf(ctx);
      const ownBefore = vmLckKiB();
      const { child, exited, firstLine } = startChild('hold', groupPath);
      const ready = await firstLine(90_000);
      const childPid = Number(ready.pid);
      const liveKiB = vmLckKiB(childPid);
      ctx.log(`child ${childPid} holds the group with VmLck ${liveKiB} kB; SIGKILL`);
      if (!(liveKiB > 0)) throw new Error(`the child's VmLck is ${liveKiB} kB while it holds live DMA state`);
      child.kill('SIGKILL');
      const { signal } = await exited;
      if (signal !== 'SIGKILL') throw new Error(`child ended with ${signal}, not SIGKILL`);
      // The same sequence again in this process: the group is free, the window slot is free.
      const again = buildLiveState(backend, groupPath);
      const used = vmLckKiB() - ownBefore;
      again.container.close();
      again.group.close();
      const after = vmLckKiB() - ownBefore;
      ctx.log(
        `reused the group: our VmLck +${used} kB while live (the child had ${liveKiB} kB), +${after} kB after close`,
      );
      if (after !== 0) throw new Error(`VmLck ${after} kB above where it started after closing everything`);
    },
  },
  'RLIMIT_MEMLOCK reached without CAP_IPC_LOCK: ENOMEM and nothing pinned; within the limit it works': {
    only: 'kernel',
    timeoutMs: 120_000,
    run: async (_backend, ctx) => {
      const groupPath = groupOf(ctx);
      const { exited, firstLine } = startChild('memlock', groupPath);
      const r = await firstLine(90_000);
      await exited;
      ctx.log(
        `child as uid ${r.uid} (${r.model}): 1 MiB over a 64 KiB limit → ${r.code}, VmLck ${r.afterRefusal} kB; within the limit VmLck ${r.withinLimit} kB; after close ${r.afterClose} kB`,
      );
      if (r.uid === 0) throw new Error('the child still runs as root: the limit would not apply');
      if (r.code !== 'ENOMEM') throw new Error(`over the limit: expected ENOMEM, got ${String(r.code)}`);
      if (r.afterRefusal !== 0)
        throw new Error(`VmLck ${String(r.afterRefusal)} kB after the refused call: something stayed pinned`);
      if (!(Number(r.withinLimit) > 0)) throw new Error('the call within the limit charged nothing');
      if (r.afterClose !== 0) throw new Error(`VmLck ${String(r.afterClose)} kB after closing`);
    },
  },
});
