// SPDX-License-Identifier: MIT
/**
 * The whole VFIO sequence against a real kernel, through nothing but the Backend interface and @vfio-ts/uapi codecs:
 * container → group → IOMMU → device → regions → DMA by a real PCI device through a real IOMMU.
 *
 * The device is QEMU's `edu` (1234:11e8) bound to vfio-pci, as the testbed's guests provide it. Each case opens what
 * it needs and closes everything again, and checks that locked memory (VmLck) is back where it started. Cases are
 * plain `(backend) => Promise<void>`, so the same file can run against @vfio-ts/backend-sim once it models edu.
 *
 * edu facts used (QEMU hw/misc/edu.c): BAR0 0x00 identification, 0x80/0x88/0x90/0x98 DMA source, destination,
 * count, command (bit 0 start, bit 1 device→RAM), DMA buffer at device address 0x40000 (4 KiB; anything outside
 * aborts QEMU). Its registers are native-endian to the emulated CPU: big-endian on qemu-system-ppc64 (a QEMU quirk,
 * not VFIO's).
 */

import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Backend, Mapping } from '@vfio-ts/core';
import * as uapi from '@vfio-ts/uapi';
import { codec, ioctlNumber, systemConstants } from '@vfio-ts/uapi';

/** What the testbed's guest runner passes besides the backend (a subset of its KernelTestContext). */
export interface CaseContext {
  log(message: string): void;
  /** Devices bound to vfio-pci, as the runner knows them; sysfs is searched when absent or empty. */
  readonly devices?: readonly { readonly model: string; readonly bdf: string; readonly group: number }[];
}

export type KernelCase = (backend: Backend, ctx?: CaseContext) => Promise<void>;

const quiet: CaseContext = { log: () => {} };

/** The edu device under test: its PCI address and IOMMU group. */
export interface EduTarget {
  readonly bdf: string;
  readonly group: number;
}

const EDU_ID = '1234:11e8';
/** edu's identification register: major 1, minor 0, 0xed. */
const EDU_IDENT = 0x010000ed;
const EDU = { ident: 0x00, dmaSrc: 0x80, dmaDst: 0x88, dmaCount: 0x90, dmaCmd: 0x98, buffer: 0x40000n } as const;
const EDU_DMA_START = 1;
const EDU_DMA_TO_RAM = 2;
/** PCI config space (include/uapi/linux/pci_regs.h, not part of vfio.h): PCI_COMMAND and its enable bits. */
const PCI_COMMAND = 0x04;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_MASTER = 0x4;

/** VFIO constants by their C names, from the generated uapi (never typed here). */
function k(name: string): number {
  const value = (uapi as unknown as Record<string, unknown>)[name];
  if (typeof value !== 'number') throw new Error(`@vfio-ts/uapi exports no numeric ${name}`);
  return value;
}

function fail(message: string): never {
  throw new Error(message);
}

function check(condition: boolean, message: string): void {
  if (!condition) fail(message);
}

/** The edu device: from the runner's device list, else from sysfs (`VFIO_TS_EDU_BDF` picks one of several). */
export function findEdu(ctx?: CaseContext): EduTarget {
  const known = ctx?.devices?.find((d) => d.model === 'edu');
  if (known !== undefined) return { bdf: known.bdf, group: known.group };
  const wanted = process.env.VFIO_TS_EDU_BDF;
  for (const bdf of readdirSync('/sys/bus/pci/devices')) {
    if (wanted !== undefined && bdf !== wanted) continue;
    const dir = `/sys/bus/pci/devices/${bdf}`;
    const id = ['vendor', 'device'].map((f) => readFileSync(`${dir}/${f}`, 'utf8').trim().replace(/^0x/, '')).join(':');
    if (id !== EDU_ID) continue;
    let driver: string;
    try {
      driver = basename(readlinkSync(`${dir}/driver`));
    } catch {
      continue;
    }
    if (driver !== 'vfio-pci') continue;
    return { bdf, group: Number(basename(readlinkSync(`${dir}/iommu_group`))) };
  }
  return fail(`no edu device (${EDU_ID}) bound to vfio-pci in /sys/bus/pci/devices`);
}

/** Locked memory of this process in KiB, as VFIO charges it (`locked_vm`). */
export function lockedKiB(): number {
  const match = /^VmLck:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? fail('no VmLck in /proc/self/status') : Number(match[1]);
}

/** One struct ioctl: encode with argsz = sizeof, call, decode what the kernel wrote back. */
function structIoctl(
  backend: Backend,
  fd: number,
  name: string,
  struct: string,
  init: Record<string, unknown> = {},
): any {
  const c = codec(struct as never, backend.arch) as any;
  const buffer: Uint8Array = c.encode({ argsz: c.size, ...init });
  backend.ioctl(fd, ioctlNumber(name as never, backend.arch), buffer, { name });
  return c.decode(buffer);
}

function intIoctl(backend: Backend, fd: number, name: string, value?: number): number {
  return backend.ioctl(fd, ioctlNumber(name as never, backend.arch), value, { name });
}

/** Everything a case opened, closed in reverse order whatever happens. */
class Resources {
  readonly #undo: Array<() => void> = [];
  add(undo: () => void): void {
    this.#undo.push(undo);
  }
  release(): void {
    const errors: unknown[] = [];
    for (const undo of this.#undo.reverse()) {
      try {
        undo();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#undo.length = 0;
    if (errors.length > 0) {
      const messages = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
      throw new AggregateError(errors, `releasing VFIO resources failed: ${messages}`);
    }
  }
}

type IommuModel = 'type1v2' | 'spapr-v2';

interface Opened {
  readonly container: number;
  readonly group: number;
  readonly device: number;
  readonly model: IommuModel;
}

/** container, group, SET_CONTAINER, SET_IOMMU, GET_DEVICE_FD; each step checked, each resource registered. */
function openDevice(backend: Backend, target: EduTarget, res: Resources): Opened {
  const container = backend.open('/dev/vfio/vfio');
  res.add(() => backend.close(container));
  check(
    intIoctl(backend, container, 'VFIO_GET_API_VERSION') === k('VFIO_API_VERSION'),
    'VFIO_GET_API_VERSION is not VFIO_API_VERSION',
  );
  const model: IommuModel =
    intIoctl(backend, container, 'VFIO_CHECK_EXTENSION', k('VFIO_TYPE1v2_IOMMU')) > 0
      ? 'type1v2'
      : intIoctl(backend, container, 'VFIO_CHECK_EXTENSION', k('VFIO_SPAPR_TCE_v2_IOMMU')) > 0
        ? 'spapr-v2'
        : fail('the container offers neither VFIO_TYPE1v2_IOMMU nor VFIO_SPAPR_TCE_v2_IOMMU');

  const group = backend.open(`/dev/vfio/${target.group}`);
  res.add(() => backend.close(group));
  const status = structIoctl(backend, group, 'VFIO_GROUP_GET_STATUS', 'vfio_group_status');
  check((status.flags & k('VFIO_GROUP_FLAGS_VIABLE')) !== 0, `group ${target.group} is not viable`);
  check((status.flags & k('VFIO_GROUP_FLAGS_CONTAINER_SET')) === 0, 'a fresh group already has a container');

  const fdArg = new Uint8Array(4);
  new DataView(fdArg.buffer).setInt32(0, container, backend.littleEndian);
  backend.ioctl(group, ioctlNumber('VFIO_GROUP_SET_CONTAINER', backend.arch), fdArg, {
    name: 'VFIO_GROUP_SET_CONTAINER',
  });
  res.add(() => intIoctl(backend, group, 'VFIO_GROUP_UNSET_CONTAINER'));
  const after = structIoctl(backend, group, 'VFIO_GROUP_GET_STATUS', 'vfio_group_status');
  check((after.flags & k('VFIO_GROUP_FLAGS_CONTAINER_SET')) !== 0, 'SET_CONTAINER did not set CONTAINER_SET');

  intIoctl(
    backend,
    container,
    'VFIO_SET_IOMMU',
    k(model === 'type1v2' ? 'VFIO_TYPE1v2_IOMMU' : 'VFIO_SPAPR_TCE_v2_IOMMU'),
  );

  const name = new TextEncoder().encode(`${target.bdf}\0`);
  const device = backend.ioctl(group, ioctlNumber('VFIO_GROUP_GET_DEVICE_FD', backend.arch), name, {
    name: 'VFIO_GROUP_GET_DEVICE_FD',
  });
  res.add(() => backend.close(device));
  return { container, group, device, model };
}

interface Region {
  readonly size: bigint;
  readonly offset: bigint;
  readonly flags: number;
}

function regionInfo(backend: Backend, device: number, index: number): Region {
  const info = structIoctl(backend, device, 'VFIO_DEVICE_GET_REGION_INFO', 'vfio_region_info', { index });
  return { size: info.size, offset: info.offset, flags: info.flags };
}

/** edu's registers through pread/pwrite on BAR0 (vfio-pci turns aligned 4/8-byte accesses into MMIO of that size). */
export class Edu {
  readonly #le: boolean;
  constructor(
    readonly backend: Backend,
    readonly device: number,
    readonly bar0: Region,
  ) {
    // edu is native-endian to the emulated CPU, and vfio-pci passes MMIO bytes through as the device presents them.
    this.#le = backend.arch !== 'ppc64le';
  }
  read32(register: number): number {
    const buffer = new Uint8Array(4);
    check(this.backend.pread(this.device, buffer, this.bar0.offset + BigInt(register)) === 4, 'short BAR0 read');
    return new DataView(buffer.buffer).getUint32(0, this.#le);
  }
  write32(register: number, value: number): void {
    const buffer = new Uint8Array(4);
    new DataView(buffer.buffer).setUint32(0, value, this.#le);
    check(this.backend.pwrite(this.device, buffer, this.bar0.offset + BigInt(register)) === 4, 'short BAR0 write');
  }
  writeAddress(register: number, value: bigint): void {
    if (value <= 0xffff_ffffn) {
      this.write32(register, Number(value));
      return;
    }
    const buffer = new Uint8Array(8);
    new DataView(buffer.buffer).setBigUint64(0, value, this.#le);
    check(this.backend.pwrite(this.device, buffer, this.bar0.offset + BigInt(register)) === 8, 'short BAR0 write');
  }
  /** One DMA of `count` bytes between RAM at `iova` and edu's buffer; waits for the device to finish. */
  async dma(direction: 'to-device' | 'to-ram', iova: bigint, count: number): Promise<void> {
    check(count > 0 && count <= 4096, 'edu DMA must stay inside its 4 KiB buffer');
    this.writeAddress(EDU.dmaSrc, direction === 'to-device' ? iova : EDU.buffer);
    this.writeAddress(EDU.dmaDst, direction === 'to-device' ? EDU.buffer : iova);
    this.write32(EDU.dmaCount, count);
    this.write32(EDU.dmaCmd, EDU_DMA_START | (direction === 'to-ram' ? EDU_DMA_TO_RAM : 0));
    // edu runs the transfer from a QEMU timer (≈100 ms of virtual time): poll the busy bit.
    const deadline = Date.now() + 10_000;
    while ((this.read32(EDU.dmaCmd) & EDU_DMA_START) !== 0) {
      if (Date.now() > deadline) fail('edu DMA did not complete within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/**
 * Device info, config space and BAR0, common to every IOMMU model (and to a cdev fd once bound: the iommufd suite
 * in packages/testbed uses it).
 */
export function probeDevice(backend: Backend, device: number): Edu {
  const info = structIoctl(backend, device, 'VFIO_DEVICE_GET_INFO', 'vfio_device_info');
  check((info.flags & k('VFIO_DEVICE_FLAGS_PCI')) !== 0, 'edu is not reported as a PCI device');
  check(info.numRegions > k('VFIO_PCI_CONFIG_REGION_INDEX'), `only ${info.numRegions} regions`);

  const config = regionInfo(backend, device, k('VFIO_PCI_CONFIG_REGION_INDEX'));
  const ids = new Uint8Array(4);
  check(backend.pread(device, ids, config.offset) === 4, 'short config read');
  // PCI configuration space is little-endian on every architecture.
  const view = new DataView(ids.buffer);
  const id = `${view.getUint16(0, true).toString(16)}:${view.getUint16(2, true).toString(16)}`;
  check(id === EDU_ID, `config space says ${id}, not edu ${EDU_ID}`);

  // Memory decoding and bus mastering on: without them MMIO reads float and DMA silently does nothing.
  const command = new Uint8Array(2);
  backend.pread(device, command, config.offset + BigInt(PCI_COMMAND));
  const enabled = new DataView(command.buffer).getUint16(0, true) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
  new DataView(command.buffer).setUint16(0, enabled, true);
  check(backend.pwrite(device, command, config.offset + BigInt(PCI_COMMAND)) === 2, 'short config write');

  const bar0 = regionInfo(backend, device, k('VFIO_PCI_BAR0_REGION_INDEX'));
  check(bar0.size >= 1n << 20n, `edu BAR0 is ${bar0.size} bytes, expected 1 MiB`);
  const edu = new Edu(backend, device, bar0);
  const ident = edu.read32(EDU.ident);
  check(ident === EDU_IDENT, `edu identification reads 0x${ident.toString(16)}, expected 0x${EDU_IDENT.toString(16)}`);
  return edu;
}

/** A DMA buffer: page-aligned anonymous memory owned by the backend. */
function dmaBuffer(backend: Backend, res: Resources): Mapping {
  const mapping = backend.mmap({ length: backend.pageSize });
  res.add(() => backend.munmap(mapping));
  return mapping;
}

function mapDma(backend: Backend, container: number, mapping: Mapping, iova: bigint, res: Resources): () => void {
  structIoctl(backend, container, 'VFIO_IOMMU_MAP_DMA', 'vfio_iommu_type1_dma_map', {
    flags: k('VFIO_DMA_MAP_FLAG_READ') | k('VFIO_DMA_MAP_FLAG_WRITE'),
    vaddr: mapping.address,
    iova,
    size: BigInt(mapping.length),
  });
  let mapped = true;
  const unmap = (): void => {
    if (!mapped) return;
    mapped = false;
    structIoctl(backend, container, 'VFIO_IOMMU_UNMAP_DMA', 'vfio_iommu_type1_dma_unmap', {
      iova,
      size: BigInt(mapping.length),
    });
  };
  res.add(unmap);
  return unmap;
}

/** Bytes per edu transfer: well inside its 4 KiB buffer. */
const DMA_BYTES = 256;

const pattern = (seed: number, length: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);

/** RAM → edu from `source`, then edu → RAM into `target`: the bytes must arrive unchanged. */
async function dmaRoundTrip(
  edu: Edu,
  source: { mapping: Mapping; iova: bigint },
  target: { mapping: Mapping; iova: bigint },
  seed: number,
): Promise<void> {
  const data = pattern(seed, DMA_BYTES);
  source.mapping.bytes.set(data);
  target.mapping.bytes.fill(0);
  await edu.dma('to-device', source.iova, DMA_BYTES);
  await edu.dma('to-ram', target.iova, DMA_BYTES);
  check(
    target.mapping.bytes.subarray(0, DMA_BYTES).every((b, i) => b === data[i]),
    `edu DMA round trip through IOVA 0x${target.iova.toString(16)} returned other bytes`,
  );
}

/**
 * After UNMAP_DMA, a device → RAM DMA to the old IOVA must not reach the memory that used to be behind it (the
 * memory itself stays mapped in this process, so a write that got through would show).
 */
async function dmaBlocked(edu: Edu, target: { mapping: Mapping; iova: bigint; unmap: () => void }): Promise<void> {
  target.unmap();
  target.mapping.bytes.fill(0);
  await edu.dma('to-ram', target.iova, DMA_BYTES);
  check(
    target.mapping.bytes.subarray(0, DMA_BYTES).every((b) => b === 0),
    `DMA to unmapped IOVA 0x${target.iova.toString(16)} reached memory`,
  );
}

async function type1Dma(backend: Backend, opened: Opened, edu: Edu, res: Resources, ctx: CaseContext): Promise<void> {
  const info = structIoctl(backend, opened.container, 'VFIO_IOMMU_GET_INFO', 'vfio_iommu_type1_info');
  ctx.log(`type1v2: iova_pgsizes 0x${info.iovaPgsizes.toString(16)}`);
  check((info.flags & k('VFIO_IOMMU_INFO_PGSIZES')) !== 0, 'IOMMU_GET_INFO reports no page sizes');
  check((info.iovaPgsizes & BigInt(backend.pageSize)) !== 0n, 'the IOMMU cannot map this page size');

  const before = lockedKiB();
  const a = dmaBuffer(backend, res);
  const b = dmaBuffer(backend, res);
  // Below 256 MiB: edu's default DMA mask is 28 bits.
  const iovaA = 0x10_0000n;
  const iovaB = 0x20_0000n;
  mapDma(backend, opened.container, a, iovaA, res);
  const unmapB = mapDma(backend, opened.container, b, iovaB, res);
  const charged = lockedKiB() - before;
  check(charged >= (2 * backend.pageSize) / 1024, `MAP_DMA charged ${charged} KiB of locked_vm`);
  ctx.log(`MAP_DMA of 2 pages charged ${charged} KiB of locked_vm`);
  await dmaRoundTrip(edu, { mapping: a, iova: iovaA }, { mapping: b, iova: iovaB }, 7);
  await dmaBlocked(edu, { mapping: b, iova: iovaB, unmap: unmapB });
}

async function spaprDma(backend: Backend, opened: Opened, edu: Edu, res: Resources, ctx: CaseContext): Promise<void> {
  const { container } = opened;
  const info = structIoctl(backend, container, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'vfio_iommu_spapr_tce_info');
  ctx.log(
    `sPAPR v2: dma32 window 0x${info.dma32WindowStart.toString(16)} + 0x${info.dma32WindowSize.toString(16)}, ` +
      `ddw pgsizes 0x${info.ddw.pgsizes.toString(16)}, max windows ${info.ddw.maxDynamicWindowsSupported}`,
  );
  check(info.dma32WindowSize > 0, 'no default DMA window');
  const pageShift = Math.log2(backend.pageSize);

  const before = lockedKiB();
  const a = dmaBuffer(backend, res);
  const b = dmaBuffer(backend, res);
  const c = dmaBuffer(backend, res);
  for (const mapping of [a, b, c]) {
    const reg = { vaddr: mapping.address, size: BigInt(mapping.length) };
    structIoctl(backend, container, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 'vfio_iommu_spapr_register_memory', reg);
    res.add(() =>
      structIoctl(backend, container, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', 'vfio_iommu_spapr_register_memory', reg),
    );
  }
  const charged = lockedKiB() - before;
  check(charged >= (3 * backend.pageSize) / 1024, `REGISTER_MEMORY charged ${charged} KiB of locked_vm`);
  ctx.log(`REGISTER_MEMORY of 3 pages charged ${charged} KiB of locked_vm`);

  // The default 32-bit window: IOVAs are absolute bus addresses inside it.
  const base = BigInt(info.dma32WindowStart);
  const iovaA = base + 0x10_0000n;
  const iovaB = base + 0x20_0000n;
  mapDma(backend, container, a, iovaA, res);
  const unmapB = mapDma(backend, container, b, iovaB, res);
  await dmaRoundTrip(edu, { mapping: a, iova: iovaA }, { mapping: b, iova: iovaB }, 11);

  // A second, dynamic window: a failed TCE_CREATE leaks its locked_vm charge and can wedge the PHB, so nothing
  // else in this boot should depend on it having failed.
  check(
    (BigInt(info.ddw.pgsizes) & BigInt(backend.pageSize)) !== 0n,
    `DDW page sizes 0x${info.ddw.pgsizes.toString(16)} lack this page size`,
  );
  const created = structIoctl(backend, container, 'VFIO_IOMMU_SPAPR_TCE_CREATE', 'vfio_iommu_spapr_tce_create', {
    pageShift,
    windowSize: 1n << 30n,
    levels: 1,
  });
  const start: bigint = created.startAddr;
  check(start !== 0n && start !== base, `TCE_CREATE returned start_addr 0x${start.toString(16)}`);
  ctx.log(`TCE_CREATE: start_addr 0x${start.toString(16)}`);
  res.add(() =>
    structIoctl(backend, container, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', 'vfio_iommu_spapr_tce_remove', {
      startAddr: start,
    }),
  );
  mapDma(backend, container, c, start, res);
  await dmaRoundTrip(edu, { mapping: a, iova: iovaA }, { mapping: c, iova: start }, 13);
  // Last, in case a blocked DMA freezes the partitionable endpoint on some platform.
  await dmaBlocked(edu, { mapping: b, iova: iovaB, unmap: unmapB });
}

/** Runs `body` with the device open, then releases everything and checks locked_vm is back to its baseline. */
async function withDevice(
  backend: Backend,
  body: (opened: Opened, res: Resources) => Promise<void> | void,
  ctx: CaseContext = quiet,
): Promise<void> {
  const target = findEdu(ctx);
  const baseline = lockedKiB();
  const res = new Resources();
  try {
    await body(openDevice(backend, target, res), res);
  } finally {
    res.release();
  }
  const after = lockedKiB();
  check(after === baseline, `locked_vm is ${after} KiB after closing everything, was ${baseline} KiB`);
}

export const cases: Record<string, KernelCase> = {
  'backend basics on this ABI: FIONREAD, ENOTTY, eventfd round trip': async (backend, ctx = quiet) => {
    const path = join(tmpdir(), `vfio-ts-basics-${process.pid}`);
    writeFileSync(path, 'twelve bytes');
    const fd = backend.open(path);
    try {
      // FIONREAD's number differs between powerpc and the rest: it comes from @vfio-ts/uapi for backend.arch.
      const count = new Uint8Array(4);
      backend.ioctl(fd, systemConstants(backend.arch).FIONREAD, count, { name: 'FIONREAD' });
      const n = new DataView(count.buffer).getInt32(0, backend.littleEndian);
      check(n === 12, `FIONREAD on a 12-byte file says ${n}`);
      try {
        intIoctl(backend, fd, 'VFIO_GET_API_VERSION');
        fail('VFIO_GET_API_VERSION on a regular file succeeded');
      } catch (error) {
        check((error as { code?: string }).code === 'ENOTTY', `a VFIO ioctl on a file gave ${String(error)}`);
      }
    } finally {
      backend.close(fd);
      rmSync(path, { force: true });
    }
    const efd = backend.eventfd();
    try {
      const pending = backend.readEventfd(efd);
      setTimeout(() => backend.writeEventfd(efd, 42n), 10);
      const value = await pending;
      check(value === 42n, `eventfd carried ${value}`);
    } finally {
      backend.close(efd);
    }
    ctx.log(
      `FIONREAD 0x${systemConstants(backend.arch).FIONREAD.toString(16)} on ${backend.arch}, page ${backend.pageSize}`,
    );
  },

  'container, group, IOMMU and device open and close cleanly': (backend, ctx = quiet) =>
    withDevice(
      backend,
      ({ container, model }) => {
        if (model === 'type1v2') {
          const info = structIoctl(backend, container, 'VFIO_IOMMU_GET_INFO', 'vfio_iommu_type1_info');
          check(info.iovaPgsizes !== 0n, 'type1 reports no IOVA page sizes');
        } else {
          const info = structIoctl(backend, container, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'vfio_iommu_spapr_tce_info');
          check(info.dma32WindowSize > 0, 'sPAPR reports no default window');
        }
        ctx.log(`IOMMU model ${model}`);
      },
      ctx,
    ),

  'device info, config space and edu identification register': (backend, ctx = quiet) =>
    withDevice(backend, ({ device }) => void probeDevice(backend, device), ctx),

  'BAR0 maps and reads like pread': (backend, ctx = quiet) =>
    withDevice(
      backend,
      ({ device }, res) => {
        const edu = probeDevice(backend, device);
        check((edu.bar0.flags & k('VFIO_REGION_INFO_FLAG_MMAP')) !== 0, 'BAR0 is not mmap-able');
        const bar = backend.mmap({ length: backend.pageSize, fd: device, offset: edu.bar0.offset });
        res.add(() => backend.munmap(bar));
        // One aligned 32-bit load: MMIO registers must not be read byte by byte.
        const raw = new Uint32Array(bar.bytes.buffer, bar.bytes.byteOffset, 1)[0]!;
        const expected = edu.read32(EDU.ident);
        const native = backend.arch === 'ppc64le' ? byteSwap32(raw) : raw;
        check(native === expected, `mmap'd BAR0 reads 0x${raw.toString(16)}, pread 0x${expected.toString(16)}`);
      },
      ctx,
    ),

  'DMA round trip through the IOMMU, unmapped IOVA blocked, locked_vm back to baseline': (backend, ctx = quiet) =>
    withDevice(
      backend,
      async (opened, res) => {
        const edu = probeDevice(backend, opened.device);
        if (opened.model === 'type1v2') await type1Dma(backend, opened, edu, res, ctx);
        else await spaprDma(backend, opened, edu, res, ctx);
      },
      ctx,
    ),

  'misuse: a DMA buffer munmapped while still DMA-mapped stays pinned, and device writes reach no process memory': (
    backend,
    ctx = quiet,
  ) =>
    withDevice(
      backend,
      async (opened, res) => {
        const edu = probeDevice(backend, opened.device);
        const before = lockedKiB();
        // Not dmaBuffer(): this mapping is given back by hand, in the wrong order, which is the point.
        const mapping = backend.mmap({ length: backend.pageSize });
        mapping.bytes.fill(0x5a);
        let iova: bigint;
        let undo: () => void;
        if (opened.model === 'type1v2') {
          iova = 0x100000n;
          undo = mapDma(backend, opened.container, mapping, iova, res);
        } else {
          const region = { vaddr: mapping.address, size: BigInt(mapping.length) };
          structIoctl(
            backend,
            opened.container,
            'VFIO_IOMMU_SPAPR_REGISTER_MEMORY',
            'vfio_iommu_spapr_register_memory',
            region,
          );
          const info = structIoctl(
            backend,
            opened.container,
            'VFIO_IOMMU_SPAPR_TCE_GET_INFO',
            'vfio_iommu_spapr_tce_info',
          );
          iova = BigInt(info.dma32WindowStart);
          structIoctl(backend, opened.container, 'VFIO_IOMMU_MAP_DMA', 'vfio_iommu_type1_dma_map', {
            flags: k('VFIO_DMA_MAP_FLAG_READ') | k('VFIO_DMA_MAP_FLAG_WRITE'),
            vaddr: mapping.address,
            iova,
            size: BigInt(mapping.length),
          });
          let done = false;
          undo = () => {
            if (done) return;
            done = true;
            structIoctl(backend, opened.container, 'VFIO_IOMMU_UNMAP_DMA', 'vfio_iommu_type1_dma_unmap', {
              iova,
              size: BigInt(mapping.length),
            });
            // DPDK's order: unmap before unregister.
            structIoctl(
              backend,
              opened.container,
              'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY',
              'vfio_iommu_spapr_register_memory',
              region,
            );
          };
          res.add(undo);
        }
        const pinned = lockedKiB();
        check(pinned > before, `mapping charged nothing (${before} -> ${pinned} KiB)`);
        backend.munmap(mapping);
        // The kernel still holds the page for the IOMMU: the charge stays until UNMAP_DMA.
        check(lockedKiB() === pinned, `munmap while DMA-mapped changed locked_vm (${pinned} -> ${lockedKiB()} KiB)`);
        // What now sits at that address (koffi's placeholder, or anything else) must not see the device's writes.
        const fresh = backend.mmap({ length: backend.pageSize });
        res.add(() => backend.munmap(fresh));
        await edu.dma('to-ram', iova, DMA_BYTES);
        check(
          fresh.bytes.subarray(0, DMA_BYTES).every((b) => b === 0),
          'a DMA into the old IOVA showed up in memory the process mapped afterwards',
        );
        undo();
        // The pinned page's charge goes with UNMAP_DMA (sPAPR: with UNREGISTER); the default window's TCE table,
        // created by the first MAP, stays charged until the container closes, which withDevice checks.
        const released = pinned - lockedKiB();
        check(
          released === mapping.length / 1024,
          `UNMAP_DMA released ${released} KiB of a ${mapping.length / 1024} KiB pin`,
        );
        ctx.log(`${opened.model}: ${mapping.length / 1024} KiB stayed pinned across munmap, released by UNMAP_DMA`);
      },
      ctx,
    ),

  'errors name the ioctl: GET_DEVICE_FD for a device not in the group': (backend, ctx = quiet) =>
    withDevice(
      backend,
      ({ group }) => {
        const bogus = new TextEncoder().encode('0000:ff:1f.7\0');
        try {
          backend.ioctl(group, ioctlNumber('VFIO_GROUP_GET_DEVICE_FD', backend.arch), bogus, {
            name: 'VFIO_GROUP_GET_DEVICE_FD',
          });
        } catch (error) {
          const e = error as { code?: string; syscall?: string; message?: string };
          check(e.syscall === 'ioctl', `syscall is ${e.syscall}`);
          check(e.message?.includes('VFIO_GROUP_GET_DEVICE_FD') === true, `message lacks the ioctl: ${e.message}`);
          check(e.code === 'ENODEV' || e.code === 'EINVAL', `unexpected errno ${e.code}`);
          ctx.log(`GET_DEVICE_FD of a stranger: ${e.code}`);
          return;
        }
        fail('GET_DEVICE_FD of a device outside the group succeeded');
      },
      ctx,
    ),
};

function byteSwap32(value: number): number {
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | ((value >>> 24) & 0xff)) >>> 0;
}

export default cases;
