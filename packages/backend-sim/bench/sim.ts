// SPDX-License-Identifier: MIT
/**
 * Simulator cost per call, through the full Backend path (fd lookup, dispatch by number, codecs, errno mapping):
 * `benchSim()` returns median ns per call for simple ioctls and a few heavier ones.
 * Run alone: `npx tsx --conditions=@vfio-ts/source packages/backend-sim/bench/sim.ts`.
 */
import { codec, ioctlNumber, VFIO_TYPE1v2_IOMMU } from '@vfio-ts/uapi';
import { SimKernel } from '../src/index.js';

export interface SimBenchRow {
  readonly name: string;
  readonly nsPerCall: number;
}

export interface SimBenchResult {
  readonly profile: string;
  readonly rows: readonly SimBenchRow[];
  /** The headline figure: VFIO_GET_API_VERSION on a container. */
  readonly nsPerSimpleIoctl: number;
}

function median(fn: () => void, iterations: number, rounds = 7): number {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export async function benchSim(options: { iterations?: number; profile?: string } = {}): Promise<SimBenchResult> {
  const iterations = options.iterations ?? 200_000;
  const profile = options.profile ?? 'x86_64-q35';
  const kernel = SimKernel.create(profile);
  const p = kernel.createProcess({ capIpcLock: true });
  const arch = kernel.arch;
  const nr = (name: Parameters<typeof ioctlNumber>[0]) => ioctlNumber(name, arch);
  const c = p.open('/dev/vfio/vfio');
  const g = p.open('/dev/vfio/1');
  const fdArg = new Uint8Array(4);
  new DataView(fdArg.buffer).setInt32(0, c, kernel.littleEndian);
  p.ioctl(g, nr('VFIO_GROUP_SET_CONTAINER'), fdArg);
  p.ioctl(c, nr('VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU);
  const name = kernel.iommuGroups.get(1)!.devices[0]!.name;
  const d = p.ioctl(g, nr('VFIO_GROUP_GET_DEVICE_FD'), new TextEncoder().encode(`${name}\0`));

  const info = codec('vfio_iommu_type1_info', arch);
  const infoBuf = new Uint8Array(256);
  info.encodeInto({ argsz: 256 }, infoBuf);
  const mapC = codec('vfio_iommu_type1_dma_map', arch);
  const unmapC = codec('vfio_iommu_type1_dma_unmap', arch);
  const mem = p.mmap({ length: kernel.pageSize });
  const map = mapC.encode({
    argsz: mapC.size,
    flags: 3,
    vaddr: mem.address,
    iova: 0x100000n,
    size: BigInt(kernel.pageSize),
  });
  const unmap = unmapC.encode({ argsz: unmapC.size, iova: 0x100000n, size: BigInt(kernel.pageSize) });
  const reg = new Uint8Array(4);
  const statusC = codec('vfio_group_status', arch);
  const status = statusC.encode({ argsz: statusC.size });
  const apiVersion = nr('VFIO_GET_API_VERSION');
  const checkExtension = nr('VFIO_CHECK_EXTENSION');

  const rows: SimBenchRow[] = [
    { name: 'VFIO_GET_API_VERSION', nsPerCall: median(() => p.ioctl(c, apiVersion), iterations) },
    { name: 'VFIO_CHECK_EXTENSION(TYPE1v2)', nsPerCall: median(() => p.ioctl(c, checkExtension, 3), iterations) },
    {
      name: 'VFIO_GROUP_GET_STATUS',
      nsPerCall: median(() => p.ioctl(g, nr('VFIO_GROUP_GET_STATUS'), status), iterations),
    },
    {
      name: 'VFIO_IOMMU_GET_INFO (with caps)',
      nsPerCall: median(() => p.ioctl(c, nr('VFIO_IOMMU_GET_INFO'), infoBuf), iterations / 4),
    },
    {
      name: 'MAP_DMA + UNMAP_DMA of one page',
      nsPerCall: median(() => {
        p.ioctl(c, nr('VFIO_IOMMU_MAP_DMA'), map);
        p.ioctl(c, nr('VFIO_IOMMU_UNMAP_DMA'), unmap);
      }, iterations / 4),
    },
    { name: 'pread 4 bytes of edu BAR0', nsPerCall: median(() => p.pread(d, reg, 0n), iterations) },
    {
      name: 'failed ioctl (EBADF, error object built)',
      nsPerCall: median(() => {
        try {
          p.ioctl(999, apiVersion);
        } catch {
          // the cost of the throw is what is measured
        }
      }, iterations / 4),
    },
  ];
  p.exit();
  return { profile, rows, nsPerSimpleIoctl: rows[0]!.nsPerCall };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchSim();
  for (const row of r.rows) console.log(`${row.name.padEnd(44)} ${row.nsPerCall.toFixed(1).padStart(9)} ns`);
}
