// SPDX-License-Identifier: MIT
/** Guest entry for @vfio-ts/testbed: runs `probe` on the real kernel through backend-koffi, writes JSON. */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createKoffiBackend } from '@vfio-ts/backend-koffi';
import { VFIO_SPAPR_TCE_v2_IOMMU } from '@vfio-ts/uapi';
import { type ProbeRecord, probe, probeDma, probeLocked } from './probe.js';

// guest-info.txt lines: `device=<bdf> <vendor:device> <group>`
const devices = readFileSync(process.env.VFIO_TS_GUEST_INFO!, 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('device='))
  .map((l) => {
    const [bdf = '', pciId = '', group = ''] = l.slice('device='.length).trim().split(/\s+/);
    return { bdf, pciId, group: Number(group) };
  });
const find = (pciId: string) => {
  const d = devices.find((x) => x.pciId === pciId);
  if (d === undefined) throw new Error(`no ${pciId} in the guest: ${JSON.stringify(devices)}`);
  return { name: d.bdf, group: d.group };
};
// Opened while still root: the last probe drops privileges.
const results = openSync(process.env.VFIO_TS_RESULTS!, 'w');
const backend = createKoffiBackend();
const spapr = process.env.VFIO_TS_GUEST_ARCH?.startsWith('ppc') === true;
const record = probe(backend, find('1234:11e8'), find('8086:100e'), spapr ? { iommu: VFIO_SPAPR_TCE_v2_IOMMU } : {});
// The DMA and locked-memory probes are type1's; sPAPR has its own scenarios (SPAPR-SCENARIOS.md).
let dma: ProbeRecord = {};
let locked: ProbeRecord = {};
if (!spapr) {
  dma = await probeDma(backend, find('1234:11e8'));
  // Last: drops root for good (nobody, no CAP_IPC_LOCK), so the default 8 MiB RLIMIT_MEMLOCK applies.
  locked = probeLocked(
    backend,
    find('1234:11e8'),
    () => {
      process.setgroups?.([]);
      process.setgid?.(65534);
      process.setuid?.(65534);
    },
    () => Number(/VmLck:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 4,
  );
}
writeSync(
  results,
  JSON.stringify({ version: readFileSync('/proc/version', 'utf8'), devices, record, dma, locked }, null, 2),
);
fsyncSync(results);
closeSync(results);
