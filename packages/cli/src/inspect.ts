// SPDX-License-Identifier: MIT
/**
 * `vfio-ts inspect`: what VFIO sees on a host — its IOMMU groups and devices, each device's regions and IRQ indexes,
 * and the IOMMU's capabilities and DMA windows. Read-only: every group gets a container of its own for the time of
 * the look and is left as it was found. A group that cannot be opened is reported with what to do, not thrown.
 */
import { Container, Group, type IrqInfo, isSystemError, type RegionInfo, type Spapr, Type1 } from '@vfio-ts/core';
import {
  VFIO_API_VERSION,
  vfioIommuType,
  vfioIrqInfoFlags,
  vfioPciIrqIndex,
  vfioPciRegionIndex,
  vfioRegionInfoFlags,
} from '@vfio-ts/uapi';
import { bindAdvice, CliError, type Host, type HostGroup, viabilityAdvice } from './host.js';
import { bytes, hex, type Output, pageSizes, table } from './ui.js';

export interface RegionReport {
  readonly index: number;
  readonly name: string;
  readonly size: bigint;
  readonly offset: bigint;
  readonly flags: readonly string[];
  readonly capabilities: readonly string[];
}

export interface IrqReport {
  readonly index: number;
  readonly name: string;
  readonly count: number;
  readonly flags: readonly string[];
}

export interface DeviceReport {
  readonly name: string;
  readonly id: string | undefined;
  readonly driver: string | null;
  readonly model: string | undefined;
  readonly flags?: readonly string[];
  readonly regions?: readonly RegionReport[];
  readonly irqs?: readonly IrqReport[];
  /** Why the device could not be opened through VFIO. */
  readonly error?: string;
}

export interface WindowReport {
  readonly start: bigint;
  readonly size: bigint;
  readonly pageShift: number;
  readonly default: boolean;
}

export interface IommuReport {
  readonly model: string;
  readonly pageSizes?: bigint;
  readonly iovaRanges?: readonly { readonly start: bigint; readonly end: bigint }[];
  readonly dmaAvail?: number;
  readonly ddw?: { readonly pageSizes: bigint; readonly maxWindows: number; readonly levels: number };
  readonly windows?: readonly WindowReport[];
}

export interface GroupReport {
  readonly id: number;
  readonly node: boolean;
  readonly viable?: boolean;
  readonly devices: readonly DeviceReport[];
  readonly iommu?: IommuReport;
  /** Why the group could not be looked into, and what to do. */
  readonly error?: string;
  readonly advice?: readonly string[];
}

export interface InspectReport {
  readonly host: string;
  readonly backend: 'sim' | 'koffi';
  readonly arch: string;
  readonly pageSize: number;
  readonly apiVersion: number;
  /** CHECK_EXTENSION for every IOMMU type and extension the uapi knows. */
  readonly extensions: Readonly<Record<string, boolean>>;
  readonly groups: readonly GroupReport[];
}

function nameOf(table: Readonly<Record<string, number>>, value: number, prefix: RegExp): string {
  const found = Object.entries(table).find(([, v]) => v === value);
  return found === undefined ? `#${value}` : found[0].replace(prefix, '');
}

function flagNames(table: Readonly<Record<string, number>>, flags: number, prefix: RegExp): string[] {
  return Object.entries(table)
    .filter(([, v]) => v !== 0 && (flags & v) === v)
    .map(([k]) => k.replace(prefix, '').toLowerCase());
}

export function inspect(host: Host): InspectReport {
  const { backend } = host;
  let container: Container;
  try {
    container = Container.open(backend);
  } catch (error) {
    if (isSystemError(error, 'EACCES') || isSystemError(error, 'EPERM')) {
      throw new CliError('VFIO_TS_CLI_NO_PERMISSION', `no permission to open /dev/vfio/vfio (${error.code})`, [
        'run as root, or give your user the VFIO nodes: `chown $USER /dev/vfio/<group>` (the container node is usually 0666)',
      ]);
    }
    throw error;
  }
  const extensions: Record<string, boolean> = {};
  // Container.open has checked VFIO_GET_API_VERSION against this number already.
  const apiVersion = VFIO_API_VERSION;
  try {
    for (const [name, value] of Object.entries(vfioIommuType)) extensions[name] = container.checkExtension(value) > 0;
  } finally {
    container.close();
  }
  const groups = host.groups().map((g) => inspectGroup(host, g));
  if (host.kind === 'koffi' && groups.length === 0) {
    throw new CliError('VFIO_TS_CLI_NO_GROUP', 'VFIO is loaded but no IOMMU group is bound to it', [
      'bind a device to vfio-pci: `echo vfio-pci > /sys/bus/pci/devices/<BDF>/driver_override && echo <BDF> > /sys/bus/pci/drivers_probe`',
      'its group then appears as /dev/vfio/<n> (see /sys/bus/pci/devices/<BDF>/iommu_group)',
    ]);
  }
  return {
    host: host.label,
    backend: host.kind,
    arch: backend.arch,
    pageSize: backend.pageSize,
    apiVersion,
    extensions,
    groups,
  };
}

function inspectGroup(host: Host, hostGroup: HostGroup): GroupReport {
  const base = { id: hostGroup.id, node: hostGroup.node, devices: hostGroup.devices.map((d) => ({ ...d })) };
  if (!hostGroup.node) {
    return {
      ...base,
      error: 'no /dev/vfio node: none of its devices is bound to vfio-pci',
      advice: bindAdvice(hostGroup),
    };
  }
  const { backend } = host;
  let group: Group | undefined;
  let container: Container | undefined;
  try {
    try {
      group = Group.open(backend, hostGroup.id);
    } catch (error) {
      if (isSystemError(error, 'EACCES') || isSystemError(error, 'EPERM')) {
        return {
          ...base,
          error: `no permission to open /dev/vfio/${hostGroup.id}`,
          advice: [`run as root, or \`chown $USER /dev/vfio/${hostGroup.id}\``],
        };
      }
      if (isSystemError(error, 'EBUSY')) {
        return {
          ...base,
          error: `/dev/vfio/${hostGroup.id} is already open (a group opens once, in one process)`,
          advice: [`close the program holding it (\`fuser -v /dev/vfio/${hostGroup.id}\` shows which)`],
        };
      }
      throw error;
    }
    const viable = group.status().viable;
    if (!viable) {
      return {
        ...base,
        viable,
        error: 'not viable: a device of the group is bound to another driver',
        advice: viabilityAdvice(hostGroup),
      };
    }
    container = Container.open(backend);
    group.setContainer(container);
    const iommu = container.setIommu('auto');
    const iommuReport = describeIommu(iommu);
    const devices = hostGroup.devices.map((d): DeviceReport => {
      if (d.driver !== 'vfio-pci') return { ...d };
      try {
        const device = group!.device(d.name);
        try {
          const info = device.info();
          const regions: RegionReport[] = [];
          for (let i = 0; i < info.numRegions; i++) {
            let r: RegionInfo;
            try {
              r = device.region(i).info;
            } catch (error) {
              // vfio-pci answers EINVAL for a region the device lacks (the VGA region of a non-VGA device).
              if (isSystemError(error, 'EINVAL')) continue;
              throw error;
            }
            regions.push({
              index: i,
              name: nameOf(vfioPciRegionIndex, i, /^VFIO_PCI_|_REGION_INDEX$/g),
              size: r.size,
              offset: r.offset,
              flags: flagNames(vfioRegionInfoFlags, r.flags, /^VFIO_REGION_INFO_FLAG_/),
              capabilities: [
                ...(r.capabilities.sparseMmap !== undefined
                  ? [`sparse-mmap(${r.capabilities.sparseMmap.length})`]
                  : []),
                ...(r.capabilities.type !== undefined
                  ? [`type ${r.capabilities.type.type}/${r.capabilities.type.subtype}`]
                  : []),
                ...(r.capabilities.msixMappable ? ['msix-mappable'] : []),
              ],
            });
          }
          const irqs: IrqReport[] = [];
          for (let i = 0; i < info.numIrqs; i++) {
            let q: IrqInfo;
            try {
              q = device.irq(i).info;
            } catch (error) {
              if (isSystemError(error, 'EINVAL')) continue;
              throw error;
            }
            irqs.push({
              index: i,
              name: nameOf(vfioPciIrqIndex, i, /^VFIO_PCI_|_IRQ_INDEX$/g),
              count: q.count,
              flags: flagNames(vfioIrqInfoFlags, q.flags, /^VFIO_IRQ_INFO_/),
            });
          }
          const flags = [...(info.pci ? ['pci'] : []), ...(info.resettable ? ['reset'] : [])];
          return { ...d, flags, regions, irqs };
        } finally {
          device.close();
        }
      } catch (error) {
        return { ...d, error: error instanceof Error ? error.message : String(error) };
      }
    });
    return { ...base, viable, iommu: iommuReport, devices };
  } finally {
    try {
      group?.close();
    } finally {
      container?.close();
    }
  }
}

function describeIommu(iommu: Type1 | Spapr): IommuReport {
  if (iommu instanceof Type1) {
    const info = iommu.info();
    return {
      model: iommu.model,
      ...(info.iovaPgsizes !== undefined ? { pageSizes: info.iovaPgsizes } : {}),
      ...(info.iovaRanges !== undefined ? { iovaRanges: info.iovaRanges } : {}),
      ...(info.dmaAvail !== undefined ? { dmaAvail: info.dmaAvail } : {}),
    };
  }
  const info = iommu.info();
  return {
    model: iommu.model,
    ...(info.ddw !== undefined
      ? {
          ddw: {
            pageSizes: info.ddw.pgsizes,
            maxWindows: info.ddw.maxDynamicWindowsSupported,
            levels: info.ddw.levels,
          },
        }
      : {}),
    windows: iommu.windows.map((w) => ({
      start: w.startAddr,
      size: w.windowSize,
      pageShift: w.pageShift,
      default: w.isDefault,
    })),
  };
}

export function renderInspect(report: InspectReport, out: Output): string {
  const c = out.colors;
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  say(c.bold(c.magenta(`━━ VFIO on ${report.host} ━━`)));
  say(`arch ${report.arch}, page size ${bytes(report.pageSize)}, VFIO API version ${report.apiVersion}`);
  say(
    `extensions: ${Object.entries(report.extensions)
      .map(([k, v]) => (v ? c.green(`${k.replace(/^VFIO_/, '')} ✓`) : c.dim(`${k.replace(/^VFIO_/, '')} ✗`)))
      .join(' ')}`,
  );
  for (const g of report.groups) {
    say();
    const state = g.error !== undefined ? c.red(g.error) : c.green('viable');
    say(`${c.bold(c.cyan(`group ${g.id}`))}  ${g.node ? `/dev/vfio/${g.id}` : c.dim('(no /dev/vfio node)')}  ${state}`);
    for (const a of g.advice ?? []) say(`  ${c.yellow('→')} ${a}`);
    if (g.iommu !== undefined) {
      const i = g.iommu;
      say(`  IOMMU ${c.green(i.model)}`);
      if (i.pageSizes !== undefined) say(`    page sizes   ${pageSizes(i.pageSizes)}`);
      if (i.iovaRanges !== undefined)
        say(`    IOVA ranges  ${i.iovaRanges.map((r) => `${hex(r.start)}–${hex(r.end)}`).join(', ')}`);
      if (i.dmaAvail !== undefined) say(`    DMA avail    ${i.dmaAvail}`);
      if (i.ddw !== undefined)
        say(
          `    dynamic windows: up to ${i.ddw.maxWindows}, page sizes ${pageSizes(i.ddw.pageSizes)}, levels ≤ ${i.ddw.levels}`,
        );
      if (i.windows !== undefined && i.windows.length > 0) {
        say('    windows:');
        say(
          table(
            ['start', 'size', 'IOMMU page', ''],
            i.windows.map((w) => [
              hex(w.start),
              bytes(w.size),
              bytes(1n << BigInt(w.pageShift)),
              w.default ? 'default 32-bit' : '',
            ]),
            '      ',
          ),
        );
      }
    }
    for (const d of g.devices) {
      const what = [d.id, d.model].filter((x) => x !== undefined).join(' ');
      say(
        `  ${c.bold(d.name)}  ${what}  driver ${d.driver === 'vfio-pci' ? c.green('vfio-pci') : c.yellow(d.driver ?? 'none')}`,
      );
      if (d.error !== undefined) say(`    ${c.red(d.error)}`);
      if (d.flags !== undefined) say(`    flags: ${d.flags.join(', ') || '-'}`);
      if (d.regions !== undefined) {
        say('    regions:');
        say(
          table(
            ['#', 'name', 'size', 'offset', 'flags', 'capabilities'],
            d.regions
              .filter((r) => r.size > 0n)
              .map((r) => [
                `${r.index}`,
                r.name,
                bytes(r.size),
                hex(r.offset),
                r.flags.join(',') || '-',
                r.capabilities.join(', '),
              ]),
            '      ',
          ),
        );
      }
      if (d.irqs !== undefined) {
        say('    IRQs:');
        say(
          table(
            ['#', 'name', 'count', 'flags'],
            d.irqs.map((q) => [`${q.index}`, q.name, `${q.count}`, q.flags.join(',') || '-']),
            '      ',
          ),
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
