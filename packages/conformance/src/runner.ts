// SPDX-License-Identifier: MIT
/**
 * Runs one scenario in one IOMMU mode on one system and records its trace. Every step is executed in order; the
 * first unmet expectation ends the scenario as failed. Whatever happens, every fd the scenario opened is closed
 * (newest first) and every mapping unmapped, so that a real kernel process can run the next scenario.
 */
import type { Backend, Mapping } from '@vfio-ts/core';
import * as uapi from '@vfio-ts/uapi';
import { type Arch, codec, type IoctlName, ioctlNumber, systemConstants } from '@vfio-ts/uapi';
import { maskedHex, type ScenarioResult, type TraceEntry } from './trace.js';
import type { BufRef, ConformanceSystem, Env, Expect, FdRef, IoctlArg, Mode, Scenario, Step, V } from './types.js';

/** The `VFIO_SET_IOMMU` argument of each mode. */
export function iommuTypeOf(mode: Mode): number {
  switch (mode) {
    case 'type1v2':
      return uapi.VFIO_TYPE1v2_IOMMU;
    case 'type1v1':
      return uapi.VFIO_TYPE1_IOMMU;
    case 'spapr-v2':
      return uapi.VFIO_SPAPR_TCE_v2_IOMMU;
    case 'spapr-v1':
      return uapi.VFIO_SPAPR_TCE_IOMMU;
  }
}

class Unmet extends Error {}
class Skip extends Error {}

const isFn = <T>(v: V<T>): v is (env: Env) => T => typeof v === 'function';
const isBufRef = (v: unknown): v is BufRef => typeof v === 'object' && v !== null && 'buf' in v;
const isFdRef = (v: unknown): v is FdRef => typeof v === 'object' && v !== null && 'fd' in v;

/** Why a scenario cannot run on a system in a mode, or undefined. */
export function whySkip(scenario: Scenario, mode: Mode, system: ConformanceSystem): string | undefined {
  if (!scenario.modes.includes(mode)) return `not a ${mode} scenario`;
  if (system.target === 'kernel' && scenario.realKernelHazard !== undefined) {
    return `skipped on a real kernel: ${scenario.realKernelHazard}`;
  }
  const needs = scenario.needs ?? {};
  if ((needs.groups ?? 1) > system.groups.length) {
    return `needs ${needs.groups} IOMMU groups, the system has ${system.groups.length}`;
  }
  if (needs.edu === true && system.groups[0]?.edu === undefined) return 'needs an edu device in the first group';
  if (needs.eeh === true && system.eeh !== true) return 'needs EEH (VFIO_EEH is 0 on this platform)';
  if (needs.pageSize !== undefined && needs.pageSize !== system.backend.pageSize) {
    return `written for ${needs.pageSize}-byte pages (this system has ${system.backend.pageSize})`;
  }
  if (needs.platform !== undefined && (system.facts?.powernv === 1 ? 'powernv' : 'pseries') !== needs.platform) {
    return `only on ${needs.platform}`;
  }
  for (const f of needs.facts ?? []) {
    if (system.facts?.[f] === undefined) return `needs the platform fact '${f}'`;
  }
  if (scenario.steps.some((s) => s.op === 'rlimit') && system.setRlimitMemlock === undefined) {
    return 'needs RLIMIT_MEMLOCK without CAP_IPC_LOCK (the system cannot drop the capability)';
  }
  if (scenario.steps.some((s) => s.op === 'locked') && system.lockedVm === undefined) {
    return "cannot observe the process's locked memory";
  }
  return undefined;
}

export async function runScenario(scenario: Scenario, mode: Mode, system: ConformanceSystem): Promise<ScenarioResult> {
  const backend = system.backend;
  const base = { scenario: scenario.name, mode, arch: backend.arch, target: system.target } as const;
  const reason = whySkip(scenario, mode, system);
  if (reason !== undefined) return { ...base, status: 'skipped', reason, trace: [] };
  const run = new Run(backend, system, mode);
  try {
    for (let i = 0; i < scenario.steps.length; i++) await run.step(i, scenario.steps[i] as Step);
    return { ...base, status: 'passed', trace: run.trace };
  } catch (error) {
    if (error instanceof Skip) return { ...base, status: 'skipped', reason: error.message, trace: run.trace };
    const message = error instanceof Unmet ? error.message : `${(error as Error).message ?? error}`;
    return { ...base, status: 'failed', error: message, trace: run.trace };
  } finally {
    run.cleanup();
  }
}

class Run {
  readonly trace: TraceEntry[] = [];
  readonly fds = new Map<string, number>();
  readonly order: string[] = [];
  readonly bufs = new Map<string, Mapping>();
  readonly vars: Record<string, bigint | number> = {};
  readonly env: Env;
  readonly arch: Arch;
  readonly baseline: bigint | undefined;
  stepIndex = 0;

  constructor(
    readonly backend: Backend,
    readonly system: ConformanceSystem,
    readonly mode: Mode,
  ) {
    this.arch = backend.arch as Arch;
    this.env = {
      arch: backend.arch,
      pageSize: backend.pageSize,
      mode,
      iommuType: iommuTypeOf(mode),
      vars: this.vars,
      facts: system.facts ?? {},
    };
    this.baseline = system.lockedVm?.();
  }

  v<T>(value: V<T>): T {
    return isFn(value) ? value(this.env) : value;
  }

  fail(message: string): never {
    throw new Unmet(`step ${this.stepIndex}: ${message}`);
  }

  handle(name: string): number {
    const fd = this.fds.get(name);
    if (fd === undefined) this.fail(`no fd '${name}' is open`);
    return fd;
  }

  address(ref: BufRef): bigint {
    const m = this.bufs.get(ref.buf);
    if (m === undefined) this.fail(`no mapping '${ref.buf}'`);
    return m.address + BigInt(this.v(ref.offset ?? 0));
  }

  async step(index: number, step: Step): Promise<void> {
    this.stepIndex = index;
    switch (step.op) {
      case 'open':
        return this.open(index, step);
      case 'close': {
        const fd = this.handle(step.fd);
        const r = this.call(() => {
          this.backend.close(fd);
          return 0;
        });
        this.trace.push({ step: index, op: 'close', target: step.fd, ...r.entry });
        if (r.errno === undefined) this.forget(step.fd);
        this.check(step.expect ?? {}, r);
        return;
      }
      case 'ioctl':
        return this.ioctl(index, step);
      case 'mmap': {
        const sys = systemConstants(this.arch);
        const prot = step.prot === 'r' ? sys.PROT_READ : sys.PROT_READ | sys.PROT_WRITE;
        const m = this.backend.mmap({ length: this.v(step.bytes), prot });
        this.bufs.set(step.as, m);
        this.trace.push({ step: index, op: 'mmap', target: step.as, ret: 'addr' });
        return;
      }
      case 'munmap': {
        const m = this.bufs.get(step.buf);
        if (m === undefined) this.fail(`no mapping '${step.buf}'`);
        this.backend.munmap(m);
        this.bufs.delete(step.buf);
        this.trace.push({ step: index, op: 'munmap', target: step.buf });
        return;
      }
      case 'eventfd': {
        const fd = this.backend.eventfd(0);
        this.remember(step.as, fd);
        this.trace.push({ step: index, op: 'eventfd', target: step.as, ret: 'fd' });
        return;
      }
      case 'locked': {
        const now = this.system.lockedVm?.();
        if (now === undefined || this.baseline === undefined) throw new Skip('cannot observe locked memory');
        const delta = now - this.baseline;
        const want = BigInt(this.v(step.delta));
        this.trace.push({ step: index, op: 'locked', observed: `${delta}` });
        if (delta !== want) this.fail(`locked memory changed by ${delta} bytes, want ${want}`);
        return;
      }
      case 'rlimit': {
        const set = this.system.setRlimitMemlock;
        if (set === undefined) throw new Skip('cannot set RLIMIT_MEMLOCK');
        const bytes = BigInt(this.v(step.bytes)) + (this.baseline ?? 0n);
        set(bytes);
        this.trace.push({ step: index, op: 'rlimit', observed: `baseline+${this.v(step.bytes)}` });
        return;
      }
      case 'dma':
        return this.dma(index, step);
      case 'pread':
      case 'pwrite':
        return this.rw(index, step);
    }
  }

  open(index: number, step: Extract<Step, { op: 'open' }>): void {
    let path: string;
    let target: string;
    if (step.path === 'container') {
      path = '/dev/vfio/vfio';
      target = 'container';
    } else {
      const g = this.system.groups[step.path.group];
      if (g === undefined) throw new Skip(`the system has no group ${step.path.group}`);
      path = g.path;
      target = `group[${step.path.group}]`;
    }
    const sys = systemConstants(this.arch);
    const r = this.call(() => this.backend.open(path, sys.O_RDWR | sys.O_CLOEXEC));
    this.trace.push({ step: index, op: 'open', target, ...(r.errno ? { errno: r.errno } : { ret: 'fd' }) });
    if (r.errno === undefined) this.remember(step.as, r.ret as number);
    this.check({ ret: 'fd', ...step.expect }, r);
  }

  remember(name: string, fd: number): void {
    this.fds.set(name, fd);
    this.order.push(name);
  }

  forget(name: string): void {
    this.fds.delete(name);
    const i = this.order.lastIndexOf(name);
    if (i >= 0) this.order.splice(i, 1);
  }

  call(fn: () => number | undefined): { ret?: number; errno?: string; entry: Partial<TraceEntry> } {
    try {
      const ret = fn();
      return { ret: typeof ret === 'number' ? ret : 0, entry: {} };
    } catch (error) {
      const code = (error as { code?: unknown; syscall?: unknown }).code;
      if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return { errno: code, entry: { errno: code } };
      throw error;
    }
  }

  check(expect: Expect, r: { ret?: number; errno?: string }, decoded?: Record<string, unknown>): void {
    if (expect.anyOutcome === true) return;
    const errno = this.v(expect.errno);
    if (errno !== undefined) {
      if (r.errno !== errno) this.fail(`expected ${errno}, got ${r.errno ?? `success (${r.ret})`}`);
      return;
    }
    if (r.errno !== undefined) this.fail(`expected success, got ${r.errno}`);
    const want = expect.ret ?? 0;
    const ret = r.ret as number;
    if (want === 'fd' || want === 'any') {
      if (ret < 0) this.fail(`expected a non-negative return, got ${ret}`);
    } else {
      const w = this.v(want);
      if (ret !== w) this.fail(`expected return ${w}, got ${ret}`);
    }
    for (const [key, value] of Object.entries(expect.out ?? {})) {
      const w = this.v(value);
      const got = decoded?.[key];
      if (typeof w === 'object' && w !== null) {
        for (const [sub, sw] of Object.entries(w)) {
          const g = (got as Record<string, unknown> | undefined)?.[sub];
          if (!same(g, sw)) this.fail(`written-back ${key}.${sub} is ${fmt(g)}, want ${fmt(sw)}`);
        }
      } else if (!same(got, w)) {
        this.fail(`written-back ${key} is ${fmt(got)}, want ${fmt(w)}`);
      }
    }
  }

  ioctl(index: number, step: Extract<Step, { op: 'ioctl' }>): void {
    const fd = typeof step.fd === 'string' ? this.handle(step.fd) : this.v(step.fd);
    const target = typeof step.fd === 'string' ? step.fd : `fd ${fd}`;
    const request = ioctlNumber(step.ioctl, this.arch) + (step.requestDelta ?? 0);
    const built = this.buildArg(step.ioctl, step.arg);
    const argIn = built.bytes
      ? maskedHex(built.bytes, built.masks)
      : built.value !== undefined
        ? `${built.value}`
        : undefined;
    // A shifted request is not the named ioctl: backends check that a name matches its number, so none is given.
    const options = step.requestDelta ? {} : { name: step.ioctl };
    const r = this.call(() => this.backend.ioctl(fd, request, built.bytes ?? built.value, options));
    const fdRet = step.expect.ret === 'fd' && r.errno === undefined;
    const entry: TraceEntry = {
      step: index,
      op: 'ioctl',
      target,
      ioctl: step.requestDelta ? `${step.ioctl}+${step.requestDelta}` : step.ioctl,
      ...(argIn !== undefined ? { argIn } : {}),
      ...(built.refs.length > 0 ? { refs: built.refs } : {}),
      ...(r.errno !== undefined ? { errno: r.errno } : { ret: fdRet ? 'fd' : (r.ret as number) }),
      ...(built.bytes ? { argOut: maskedHex(built.bytes, built.masks) } : {}),
    };
    this.trace.push(entry);
    const decoded =
      built.struct && built.bytes
        ? (built.struct.decode(built.bytes.subarray(0, built.struct.size)) as Record<string, unknown>)
        : undefined;
    this.check(step.expect, r, decoded);
    if (r.errno === undefined) {
      // A returned fd is always owned by the run, named or not, so that cleanup closes it (a leaked device fd keeps
      // its group open on a real kernel, and the next scenario's open of that group fails with EBUSY).
      if (step.as !== undefined) this.remember(step.as, r.ret as number);
      else if (fdRet) this.remember(`$fd${index}`, r.ret as number);
      for (const [name, path] of Object.entries(step.save ?? {})) {
        const value =
          path === '$ret'
            ? r.ret
            : path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], decoded);
        if (typeof value !== 'number' && typeof value !== 'bigint') this.fail(`cannot save '${path}'`);
        this.vars[name] = value;
      }
    }
  }

  buildArg(
    name: IoctlName,
    arg: IoctlArg,
  ): {
    bytes?: Uint8Array;
    value?: number;
    masks: [number, number][];
    refs: string[];
    struct?: { size: number; decode(b: Uint8Array): unknown };
  } {
    const masks: [number, number][] = [];
    const refs: string[] = [];
    if (arg === undefined) return { masks, refs };
    if ('int' in arg) return { value: this.v(arg.int), masks, refs };
    if ('intPtr' in arg) {
      const bytes = new Uint8Array(4);
      const p = arg.intPtr;
      let n: number;
      if (isFdRef(p)) {
        n = this.handle(p.fd);
        masks.push([0, 4]);
        refs.push(`fd=${p.fd}`);
      } else {
        n = this.v(p);
      }
      new DataView(bytes.buffer).setInt32(0, n, this.backend.littleEndian);
      return { bytes, masks, refs };
    }
    if ('string' in arg) {
      const s = arg.string;
      let text: string;
      if (typeof s === 'object') {
        const g = s.group ?? 0;
        const dev = this.system.groups[g]?.devices[s.device];
        if (dev === undefined) throw new Skip(`group ${g} has no device ${s.device}`);
        text = dev + (s.suffix ?? '');
        refs.push(`name=group[${g}].device[${s.device}]${s.suffix ?? ''}`);
      } else {
        text = this.v(s);
      }
      const bytes = new TextEncoder().encode(`${text}\0`);
      // The name itself differs between machines: trace it symbolically.
      if (typeof s === 'object') masks.push([0, bytes.length]);
      return { bytes, masks, refs };
    }
    const spec = uapi.ioctls[name].arg;
    const structName = (arg.struct ?? (spec.kind === 'struct' ? spec.struct : undefined)) as Parameters<
      typeof codec
    >[0];
    if (structName === undefined) throw new Error(`${name} takes no struct: give 'struct'`);
    const c = codec(structName, this.arch);
    const value: Record<string, unknown> = { argsz: c.size };
    for (const [key, raw] of Object.entries(arg.value)) {
      const f = this.v(raw);
      if (isBufRef(f)) {
        value[key] = this.address(f);
        const layout = c.fields.find((x) => x.key === key);
        if (layout) masks.push([layout.offset, layout.size]);
        refs.push(`${key}=${f.buf}+0x${BigInt(this.v(f.offset ?? 0)).toString(16)}`);
      } else if (isFdRef(f)) {
        value[key] = this.handle(f.fd);
        const layout = c.fields.find((x) => x.key === key);
        if (layout) masks.push([layout.offset, layout.size]);
        refs.push(`${key}=${f.fd}`);
      } else {
        value[key] = f;
      }
    }
    const encoded = c.encode(value as never);
    const tail = arg.tailInts ?? [];
    const size = Math.max(c.size + 4 * tail.length, this.v(arg.size ?? 0));
    const bytes = new Uint8Array(size);
    bytes.set(encoded);
    const view = new DataView(bytes.buffer);
    tail.forEach((t, i) => {
      const at = c.size + 4 * i;
      if (isFdRef(t)) {
        masks.push([at, 4]);
        refs.push(`data[${i}]=${t.fd}`);
      }
      view.setInt32(at, isFdRef(t) ? this.handle(t.fd) : t, this.backend.littleEndian);
    });
    return { bytes, masks, refs, struct: c as never };
  }

  rw(index: number, step: Extract<Step, { op: 'pread' | 'pwrite' }>): void {
    const device = this.handle(step.device);
    const edu = new Edu(this.backend, device, this.arch);
    const base = edu.region(step.region);
    const at = base + BigInt(this.v(step.offset));
    const buffer = new Uint8Array(step.length);
    if (step.op === 'pwrite') buffer.set(hexBytes(this.v(step.bytes ?? '')).subarray(0, step.length));
    const r = this.call(() =>
      step.op === 'pread' ? this.backend.pread(device, buffer, at) : this.backend.pwrite(device, buffer, at),
    );
    const data = step.op === 'pread' && r.errno === undefined ? maskedHex(buffer.subarray(0, r.ret), []) : undefined;
    this.trace.push({
      step: index,
      op: step.op,
      target: `${step.device} region ${step.region}+0x${BigInt(this.v(step.offset)).toString(16)}`,
      ...(r.errno !== undefined ? { errno: r.errno } : { ret: r.ret as number }),
      ...(data !== undefined ? { observed: data } : {}),
    });
    this.check({ ...step.expect, ret: step.expect.ret ?? step.length }, r);
    const want = step.expect.data === undefined ? undefined : this.v(step.expect.data);
    if (want !== undefined && data !== want) this.fail(`${step.op} read ${data}, want ${want}`);
  }

  async dma(index: number, step: Extract<Step, { op: 'dma' }>): Promise<void> {
    const device = this.handle(step.device);
    const edu = new Edu(this.backend, device, this.arch);
    edu.enable();
    const count = 64;
    const src = this.bufBytes(step.buf, count);
    const dst = this.bufBytes(step.backBuf, count);
    for (let i = 0; i < count; i++) src[i] = (i * 7 + 3) & 0xff;
    dst.fill(0);
    await edu.dma('to-device', this.v(step.iova), count);
    await edu.dma('to-ram', this.v(step.backIova), count);
    const arrived = src.every((b, i) => dst[i] === b);
    const untouched = dst.every((b) => b === 0);
    const observed = arrived ? 'ok' : untouched ? 'blocked' : 'garbled';
    this.trace.push({ step: index, op: 'dma', target: step.device, observed });
    if (observed !== step.expect) this.fail(`edu DMA was ${observed}, want ${step.expect}`);
  }

  bufBytes(ref: BufRef, count: number): Uint8Array {
    const m = this.bufs.get(ref.buf);
    if (m === undefined) this.fail(`no mapping '${ref.buf}'`);
    const off = Number(this.v(ref.offset ?? 0));
    return m.bytes.subarray(off, off + count);
  }

  cleanup(): void {
    for (const name of [...this.order].reverse()) {
      const fd = this.fds.get(name);
      if (fd === undefined) continue;
      try {
        this.backend.close(fd);
      } catch {
        // Already gone (the scenario closed it under another name); nothing to release.
      }
    }
    this.fds.clear();
    for (const m of this.bufs.values()) {
      try {
        this.backend.munmap(m);
      } catch {
        // A mapping the scenario already unmapped.
      }
    }
    this.bufs.clear();
  }
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function same(a: unknown, b: unknown): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return BigInt(a) === BigInt(b);
  }
  return a === b;
}

function fmt(v: unknown): string {
  return typeof v === 'bigint' || typeof v === 'number' ? `0x${v.toString(16)}` : String(v);
}

/**
 * QEMU's edu through pread/pwrite of BAR0 (facts: docs/real-kernel-testbed.md). Its registers are native-endian to
 * the emulated CPU, so big-endian on every ppc64 guest.
 */
class Edu {
  readonly le: boolean;
  bar0 = 0n;
  constructor(
    readonly backend: Backend,
    readonly fd: number,
    readonly arch: Arch,
  ) {
    this.le = !arch.startsWith('ppc64');
  }

  region(index: number): bigint {
    const c = codec('vfio_region_info', this.arch);
    const bytes = c.encode({ argsz: c.size, index });
    this.backend.ioctl(this.fd, ioctlNumber('VFIO_DEVICE_GET_REGION_INFO', this.arch), bytes, {
      name: 'VFIO_DEVICE_GET_REGION_INFO',
    });
    return c.decode(bytes).offset;
  }

  enable(): void {
    this.bar0 = this.region(uapi.VFIO_PCI_BAR0_REGION_INDEX);
    const config = this.region(uapi.VFIO_PCI_CONFIG_REGION_INDEX);
    // PCI_COMMAND (offset 4): memory space and bus master, or edu's DMA silently does nothing.
    const cmd = new Uint8Array(2);
    this.backend.pread(this.fd, cmd, config + 4n);
    cmd[0] = (cmd[0] as number) | 0x6;
    this.backend.pwrite(this.fd, cmd, config + 4n);
  }

  read32(reg: number): number {
    const b = new Uint8Array(4);
    this.backend.pread(this.fd, b, this.bar0 + BigInt(reg));
    return new DataView(b.buffer).getUint32(0, this.le);
  }

  write(reg: number, value: bigint, width: 4 | 8): void {
    const b = new Uint8Array(width);
    const view = new DataView(b.buffer);
    if (width === 4) view.setUint32(0, Number(value), this.le);
    else view.setBigUint64(0, value, this.le);
    this.backend.pwrite(this.fd, b, this.bar0 + BigInt(reg));
  }

  async dma(direction: 'to-device' | 'to-ram', iova: bigint, count: number): Promise<void> {
    const buffer = 0x40000n;
    const width = (a: bigint): 4 | 8 => (a > 0xffff_ffffn ? 8 : 4);
    const src = direction === 'to-device' ? iova : buffer;
    const dst = direction === 'to-device' ? buffer : iova;
    this.write(0x80, src, width(src));
    this.write(0x88, dst, width(dst));
    this.write(0x90, BigInt(count), 4);
    this.write(0x98, direction === 'to-ram' ? 3n : 1n, 4);
    const deadline = Date.now() + 10_000;
    while ((this.read32(0x98) & 1) !== 0) {
      if (Date.now() > deadline) throw new Error('edu DMA did not complete within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}
