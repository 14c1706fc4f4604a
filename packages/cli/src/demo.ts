// SPDX-License-Identifier: MIT
/**
 * `vfio-ts demo`: one whole VFIO session, narrated. Open the container and the group, choose the IOMMU, register
 * memory and create a dynamic window (sPAPR v2), map two buffers, have QEMU's edu device copy bytes from one to the
 * other by DMA through the IOMMU, read them back, and take everything down again — showing windows, mappings or
 * TCEs and locked memory at each step. The same code drives the simulator and a real host.
 */

import { readTces, recordIommuFaults, tceWindows, type1Mappings } from '@vfio-ts/backend-sim/testing';
import {
  Container,
  type DmaBuffer,
  type DmaWindow,
  EDU_BUFFER_ADDRESS,
  Edu,
  eduRegisters,
  Group,
  Spapr,
  Type1,
} from '@vfio-ts/core';
import { vfioIommuType } from '@vfio-ts/uapi';
import { bindAdvice, CliError, type Host, type HostGroup, viabilityAdvice } from './host.js';
import { bytes, hex, type Output, pageSizes, showBytes, table } from './ui.js';

export interface DemoOptions {
  /** The IOMMU group to open; by default the first one holding an edu device. */
  readonly group?: number;
  /** The device (PCI address) in it; by default the group's edu device. */
  readonly device?: string;
  /** The bytes to send through the device. */
  readonly message?: string;
}

/** What happened, for callers and tests: the bytes that went through the device, and locked memory over time. */
export interface DemoResult {
  readonly host: string;
  readonly iommu: string;
  readonly group: number;
  readonly device: string;
  readonly sent: Uint8Array;
  readonly received: Uint8Array;
  readonly roundTripOk: boolean;
  /** DMA to an IOVA no longer mapped was blocked by the IOMMU (simulator only; undefined on a real host). */
  readonly blockedAfterUnmap: boolean | undefined;
  /** locked_vm in bytes: before anything, the highest seen, after the teardown. */
  readonly locked: { readonly baseline?: bigint; readonly peak?: bigint; readonly after?: bigint };
  /** The DMA windows in use while mapped (sPAPR). */
  readonly windows: readonly { readonly start: bigint; readonly size: bigint; readonly pageShift: number }[];
  /** The IOVAs the two buffers were mapped at. */
  readonly iovas: readonly bigint[];
}

/** QEMU's edu `dma_mask` property default (hw/misc/edu.c: DMA_BIT_MASK(28)); a device property, not a VFIO value. */
const EDU_DMA_MASK_DEFAULT = (1n << 28n) - 1n;
/** edu's DMA command bits (hw/misc/edu.c EDU_DMA_RUN, EDU_DMA_FROM_PCI), for the one transfer programmed by hand. */
const EDU_DMA_START = 0x1;
const EDU_DMA_TO_RAM = 0x2;

const DEFAULT_MESSAGE = 'hello from vfio-ts: a DMA round trip through the IOMMU';

/** Picks the group and device: the options, else the first group holding an edu device. */
export function chooseEdu(
  groups: readonly HostGroup[],
  options: DemoOptions,
  host: Host,
): { group: HostGroup; device: string } {
  const candidates = options.group !== undefined ? groups.filter((g) => g.id === options.group) : groups;
  if (options.group !== undefined && candidates.length === 0) {
    throw new CliError('VFIO_TS_CLI_NO_GROUP', `IOMMU group ${options.group} does not exist on ${host.label}`, [
      `groups here: ${groups.map((g) => g.id).join(', ') || 'none'} (see \`vfio-ts inspect\`)`,
    ]);
  }
  for (const g of candidates) {
    const d =
      options.device !== undefined
        ? g.devices.find((x) => x.name === options.device)
        : g.devices.find((x) => x.model === 'edu');
    if (d !== undefined) return { group: g, device: d.name };
  }
  if (options.device !== undefined && options.group !== undefined) {
    // Trust the user on a host whose sysfs we could not read.
    return { group: candidates[0]!, device: options.device };
  }
  throw new CliError(
    'VFIO_TS_CLI_NO_EDU',
    `no ${options.device ?? 'edu device (1234:11e8)'} found in ${options.group !== undefined ? `group ${options.group}` : 'any IOMMU group'} on ${host.label}`,
    [
      "the demo drives QEMU's edu device: start the guest with `-device edu` (and an IOMMU: `-device intel-iommu,intremap=on` on q35)",
      'bind it to vfio-pci, then pass --group <n> --device <BDF>; `vfio-ts inspect` lists what is there',
    ],
  );
}

export async function runDemo(host: Host, out: Output, options: DemoOptions = {}): Promise<DemoResult> {
  const c = out.colors;
  const { backend } = host;
  const say = (s = '') => out.write(`${s}\n`);
  let stepNo = 0;
  const step = (title: string, detail = '') =>
    say(`${c.bold(c.cyan(` ${String(++stepNo).padStart(2)} `))} ${c.bold(title.padEnd(26))}${detail}`);
  const note = (s: string) => say(`    ${s}`);
  const ioctl = (name: string) => c.dim(name);
  const ok = (s: string) => c.green(`✓ ${s}`);
  const bad = (s: string) => c.red(`✗ ${s}`);

  const locked: { baseline?: bigint; peak?: bigint; after?: bigint } = {};
  const lockedNow = (): string => {
    const v = host.lockedBytes();
    if (v === undefined) return c.dim('locked memory: unknown');
    if (locked.peak === undefined || v > locked.peak) locked.peak = v;
    return `locked memory ${c.yellow(bytes(v))}`;
  };

  say(c.bold(c.magenta(`━━ vfio-ts demo on ${host.label} ━━`)));
  const { group: hostGroup, device: deviceName } = chooseEdu(host.groups(), options, host);
  if (!hostGroup.node) {
    throw new CliError(
      'VFIO_TS_CLI_NOT_BOUND',
      `IOMMU group ${hostGroup.id} (with ${deviceName}) has no /dev/vfio/${hostGroup.id}: its devices are not bound to vfio-pci`,
      bindAdvice(hostGroup),
    );
  }
  locked.baseline = host.lockedBytes();
  locked.peak = locked.baseline;

  // 1. The container: API version and the IOMMU models this kernel has.
  const container = Container.open(backend);
  const extensions = Object.entries(vfioIommuType)
    .filter(([name]) => /_IOMMU$/.test(name) && !name.includes('DMA_CC'))
    .map(([name, value]) => {
      const n = container.checkExtension(value);
      const short = name.replace(/^VFIO_/, '').replace(/_IOMMU$/, '');
      return n > 0 ? c.green(`${short} ✓`) : c.dim(`${short} ✗`);
    });
  step('open the container', `${container.path}  ${ioctl('VFIO_GET_API_VERSION')} ok`);
  note(`${ioctl('VFIO_CHECK_EXTENSION')}: ${extensions.join(' ')}`);
  note(lockedNow());

  let group: Group | undefined;
  let result: DemoResult | undefined;
  try {
    // 2. The group: viable only when every device in it belongs to vfio-pci.
    group = Group.open(backend, hostGroup.id);
    const status = group.status();
    step('open the group', `${group.path}  devices: ${hostGroup.devices.map((d) => d.name).join(', ')}`);
    note(`${ioctl('VFIO_GROUP_GET_STATUS')}: ${status.viable ? ok('viable') : bad('not viable')}`);
    if (!status.viable) {
      throw new CliError(
        'VFIO_TS_CLI_NOT_VIABLE',
        `IOMMU group ${hostGroup.id} is not viable`,
        viabilityAdvice(hostGroup),
      );
    }
    group.setContainer(container);
    note(`${ioctl('VFIO_GROUP_SET_CONTAINER')}: the group joins the container`);

    // 3. The IOMMU: the best model the kernel offers.
    const iommu = container.setIommu('auto');
    step('choose the IOMMU', `${ioctl('VFIO_SET_IOMMU')} → ${c.green(iommu.model)}`);
    if (iommu instanceof Type1) {
      const info = iommu.info();
      if (info.iovaPgsizes !== undefined) note(`page sizes      ${pageSizes(info.iovaPgsizes)}`);
      if (info.iovaRanges !== undefined)
        note(`IOVA ranges     ${info.iovaRanges.map((r) => `${hex(r.start)}–${hex(r.end)}`).join(', ')}`);
      if (info.dmaAvail !== undefined) note(`DMA mappings    ${info.dmaAvail} available`);
    } else {
      const info = iommu.info();
      note(`32-bit window   ${hex(info.dma32WindowStart)} + ${bytes(info.dma32WindowSize)} (the default window)`);
      if (info.ddw !== undefined) {
        note(
          `dynamic windows up to ${info.ddw.maxDynamicWindowsSupported}, page sizes ${pageSizes(info.ddw.pgsizes)}, ` +
            `levels ≤ ${info.ddw.levels}`,
        );
      }
      if (iommu.fallbackReason !== undefined)
        note(c.yellow(`v2 was refused (${iommu.fallbackReason.message}); running v1`));
    }

    // 4. The device and its driver.
    const device = group.device(deviceName);
    const dinfo = device.info();
    // Checks the PCI ids and turns bus mastering on; edu's registers follow QEMU's target (big-endian on POWER).
    const edu = Edu.open(device);
    const id = edu.identification();
    step('open the device', `${device.name}  ${ioctl('VFIO_GROUP_GET_DEVICE_FD')}`);
    note(
      `${dinfo.numRegions} regions, ${dinfo.numIrqs} IRQ indexes; edu ${id.major}.${id.minor} ` +
        `(id 0x${id.raw.toString(16).padStart(8, '0')}${edu.registers.littleEndian ? '' : ', big-endian registers'}); ` +
        'bus mastering on',
    );

    // 5. Memory for DMA.
    const page = backend.pageSize;
    const src = container.allocateDma(page);
    const dst = container.allocateDma(page);
    step(
      'allocate DMA memory',
      `2 × ${bytes(page)} anonymous mmap: source ${hex(src.address)}, destination ${hex(dst.address)}`,
    );

    // 6. sPAPR v2: pre-register, then a window of our own. type1 needs neither.
    let window: DmaWindow | undefined;
    if (iommu instanceof Spapr && iommu.version === 2) {
      iommu.registerMemory(src);
      iommu.registerMemory(dst);
      step('register memory', `${ioctl('VFIO_IOMMU_SPAPR_REGISTER_MEMORY')} × 2: pinned and charged`);
      note(lockedNow());
      const pageShift = Math.log2(page);
      window = iommu.createWindow({ pageShift, windowSize: 1n << 30n });
      step(
        'create a DMA window',
        `${ioctl('VFIO_IOMMU_SPAPR_TCE_CREATE')} ${bytes(window.windowSize)}, ${bytes(1n << BigInt(pageShift))} TCEs, ` +
          `${window.levels} level(s) → start ${c.green(hex(window.startAddr))}`,
      );
      note(lockedNow() + c.dim(' (the TCE table is charged too)'));
    }

    // 7. Map both buffers.
    const mapOptions = window !== undefined ? { window } : {};
    const srcIova = iommu.map(src, { ...mapOptions, write: false });
    const dstIova = iommu.map(dst, mapOptions);
    step(
      'map for DMA',
      `${ioctl('VFIO_IOMMU_MAP_DMA')} × 2: source → ${c.green(hex(srcIova))} (read-only), destination → ${c.green(hex(dstIova))}`,
    );
    const windows = showIommuState(host, container, iommu, [src, dst], out);
    note(lockedNow());

    // 8. The round trip: RAM → device → RAM, all through the IOMMU.
    const sent = new TextEncoder().encode(options.message ?? DEFAULT_MESSAGE);
    src.bytes.fill(0);
    src.bytes.set(sent);
    dst.bytes.fill(0);
    await edu.dmaToDevice(src, sent.length);
    await edu.dmaFromDevice(dst, sent.length);
    const received = dst.bytes.slice(0, sent.length);
    const same = received.length === sent.length && received.every((b, i) => b === sent[i]);
    step('DMA round trip', `edu reads ${hex(srcIova)} into its buffer, writes it back to ${hex(dstIova)}`);
    note(`sent      ${showBytes(sent)}`);
    note(`read back ${showBytes(received)}  ${same ? ok(`${received.length} bytes match`) : bad('mismatch')}`);
    if (!same && (srcIova > EDU_DMA_MASK_DEFAULT || dstIova > EDU_DMA_MASK_DEFAULT)) {
      note(
        c.yellow(
          "→ QEMU's edu masks DMA addresses to 28 bits by default, which cannot reach these IOVAs: start it with " +
            '`-device edu,dma_mask=0xffffffffffffffff`',
        ),
      );
    }

    // 9. Once unmapped, the device cannot reach the memory: the IOMMU blocks it (the simulator counts the faults).
    iommu.unmap(dst);
    let blockedAfterUnmap: boolean | undefined;
    if (host.sim !== undefined) {
      const recorder = recordIommuFaults(host.sim.kernel);
      dst.bytes.fill(0);
      // The typed API refuses DMA into an unmapped buffer, so program the stale IOVA by hand, as a buggy driver would.
      const r = edu.registers;
      r.write32(eduRegisters.dmaSource, Number(EDU_BUFFER_ADDRESS));
      r.write64(eduRegisters.dmaDestination, dstIova);
      r.write32(eduRegisters.dmaCount, sent.length);
      r.write32(eduRegisters.dmaCommand, EDU_DMA_START | EDU_DMA_TO_RAM);
      const deadline = Date.now() + 5_000;
      while ((r.read32(eduRegisters.dmaCommand) & EDU_DMA_START) !== 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      recorder.stop();
      blockedAfterUnmap = recorder.faults.length > 0 && dst.bytes.every((b) => b === 0);
      step('DMA after unmap', `destination unmapped; edu writes to ${hex(dstIova)} again`);
      note(
        blockedAfterUnmap
          ? ok(`blocked by the IOMMU (${recorder.faults.length} fault), memory untouched`)
          : bad('the write went through'),
      );
    }

    // 10. Tear down in the order the kernel needs: mappings, windows, registrations, memory, device, group.
    iommu.unmap(src);
    step('tear down', `${ioctl('VFIO_IOMMU_UNMAP_DMA')}`);
    if (iommu instanceof Spapr && window !== undefined) {
      iommu.removeWindow(window);
      note(`${ioctl('VFIO_IOMMU_SPAPR_TCE_REMOVE')} ${hex(window.startAddr)}`);
      iommu.unregisterMemory(src);
      iommu.unregisterMemory(dst);
      note(`${ioctl('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY')} × 2`);
    }
    src.free();
    dst.free();
    note('munmap × 2');
    device.close();
    group.unsetContainer();
    note(`close(device), ${ioctl('VFIO_GROUP_UNSET_CONTAINER')}`);
    group.close();
    group = undefined;
    container.close();
    note('close(group), close(container)');
    locked.after = host.lockedBytes();
    const back = locked.after === locked.baseline;
    note(
      `${lockedNow()}  ${
        locked.after === undefined
          ? ''
          : back
            ? ok(`back to the baseline of ${bytes(locked.baseline ?? 0n)}`)
            : bad(`baseline was ${bytes(locked.baseline ?? 0n)}`)
      }`,
    );
    const summary =
      locked.baseline === undefined || locked.peak === undefined || locked.after === undefined
        ? ''
        : `; locked memory ${bytes(locked.baseline)} → ${bytes(locked.peak)} → ${bytes(locked.after)}`;
    say(
      `${same && back ? c.green('✓ done') : c.red('✗ done, with problems')}: ${iommu.model}, ${sent.length} bytes ` +
        `through the IOMMU and back${summary}`,
    );
    say();
    result = {
      host: host.label,
      iommu: iommu.model,
      group: hostGroup.id,
      device: deviceName,
      sent,
      received,
      roundTripOk: same,
      blockedAfterUnmap,
      locked,
      windows,
      iovas: [srcIova, dstIova],
    };
    return result;
  } finally {
    if (result === undefined) {
      // Something failed half-way: let the typed API undo what it can, and keep the first error.
      try {
        group?.close();
      } catch {}
      try {
        container.close();
      } catch {}
    }
  }
}

/** Windows and mappings: the kernel's own tables on the simulator, the typed API's view on a real host. */
function showIommuState(
  host: Host,
  container: Container,
  iommu: Type1 | Spapr,
  buffers: readonly DmaBuffer[],
  out: Output,
): DemoResult['windows'] {
  const c = out.colors;
  const say = (s: string) => out.write(`${s}\n`);
  const windows: { start: bigint; size: bigint; pageShift: number }[] = [];
  if (iommu instanceof Spapr) {
    for (const w of iommu.windows) windows.push({ start: w.startAddr, size: w.windowSize, pageShift: w.pageShift });
  }
  if (host.sim !== undefined) {
    const b = host.sim.backend;
    if (iommu instanceof Type1) {
      const rows = type1Mappings(b, container.fd).map((m) => [
        hex(m.iova),
        bytes(m.size),
        hex(m.vaddr),
        `${m.prot & 1 ? 'r' : '-'}${m.prot & 2 ? 'w' : '-'}`,
        `${m.lockedPages}`,
      ]);
      say(c.dim("    the kernel's type1 mappings (vfio_iommu.dma_list):"));
      say(table(['iova', 'size', 'vaddr', 'prot', 'pinned pages'], rows, '      '));
    } else {
      const kw = tceWindows(b, container.fd);
      say(c.dim("    the kernel's TCE windows (tce_container.tables):"));
      say(
        table(
          ['slot', 'start', 'size', 'TCE page', 'levels', 'table charged'],
          kw.map((w) => [
            `${w.num}`,
            hex(w.startAddr),
            bytes(w.size),
            bytes(1n << BigInt(w.pageShift)),
            `${w.levels}`,
            bytes(w.allocatedSize),
          ]),
          '      ',
        ),
      );
      const tces = kw.flatMap((w) => readTces(b, container.fd, w.num).map((t) => ({ w, t })));
      say(c.dim('    valid TCEs:'));
      say(
        table(
          ['slot', 'iova', 'host physical', 'perm', 'user address'],
          tces.map(({ w, t }) => [
            `${w.num}`,
            hex(t.iova),
            hex(t.hpa),
            `${t.read ? 'r' : '-'}${t.write ? 'w' : '-'}`,
            hex(t.ua),
          ]),
          '      ',
        ),
      );
    }
  } else {
    if (windows.length > 0) {
      say(c.dim('    DMA windows:'));
      say(
        table(
          ['start', 'size', 'IOMMU page'],
          windows.map((w) => [hex(w.start), bytes(w.size), bytes(1n << BigInt(w.pageShift))]),
          '      ',
        ),
      );
    }
    say(c.dim('    mappings:'));
    say(
      table(
        ['iova', 'size', 'vaddr'],
        buffers.map((x) => [hex(x.iova ?? 0n), bytes(x.length), hex(x.address)]),
        '      ',
      ),
    );
  }
  return windows;
}
