// SPDX-License-Identifier: MIT
/** pread/pwrite on the device fd (type1 §4.7, §8 #60-62): config space, BARs, ROM, errno paths. */
import * as uapi from '@vfio-ts/uapi';
import { device, withIommu } from '../../helpers.js';
import { allModes, type Env, type RwExpect, type Scenario, type Step } from '../../types.js';

const CONFIG = uapi.VFIO_PCI_CONFIG_REGION_INDEX;
const BAR0 = uapi.VFIO_PCI_BAR0_REGION_INDEX;
const MiB = 1 << 20;
/** edu's identification register (0x010000ed) as the bytes a 4-byte read returns: native-endian to the CPU. */
const eduIdent = (env: Env): string => (env.arch.startsWith('ppc64') ? '010000ed' : 'ed000001');
const dev = (name: string, source: string, steps: Step[]): Scenario => ({
  name: `device/read-write: ${name}`,
  modes: allModes,
  source,
  needs: { edu: true },
  steps: [...withIommu(), device('D'), ...steps],
});
const read = (
  region: number,
  offset: number | ((env: Env) => number),
  length: number,
  expect: RwExpect = {},
): Step => ({
  op: 'pread',
  device: 'D',
  region,
  offset,
  length,
  expect,
});
const write = (region: number, offset: number, bytes: string, expect: RwExpect = {}): Step => ({
  op: 'pwrite',
  device: 'D',
  region,
  offset,
  length: bytes.length / 2,
  bytes,
  expect,
});

export const scenarios: Scenario[] = [
  dev('config vendor:device reads 1234:11e8', 'type1 §8 #60; real-kernel-testbed.md (edu 1234:11e8)', [
    read(CONFIG, 0, 4, { data: '3412e811' }),
  ]),
  dev('config read running past cfg_size → EFAULT', 'type1 §8 #60', [read(CONFIG, 254, 4, { errno: 'EFAULT' })]),
  dev('config read past cfg_size → EFAULT', 'type1 §4.7 CONFIG', [read(CONFIG, 256, 4, { errno: 'EFAULT' })]),
  dev('config write to the read-only vendor id is counted but dropped', 'type1 §8 #60', [
    write(CONFIG, 0, 'ffff', { ret: 2 }),
    read(CONFIG, 0, 2, { data: '3412' }),
  ]),
  dev('BAR0 identification register through pread', 'real-kernel-testbed.md (edu 0x00 reads 0x010000ed)', [
    read(BAR0, 0, 4, { data: eduIdent }),
  ]),
  dev('BAR0 liveness register returns the complement of what was written', 'real-kernel-testbed.md (edu 0x04)', [
    write(BAR0, 4, '12345678'),
    read(BAR0, 4, 4, { data: 'edcba987' }),
  ]),
  dev('BAR0 read at its size → EINVAL', 'type1 §8 #61', [read(BAR0, MiB, 4, { errno: 'EINVAL' })]),
  dev('BAR0 read spanning its end → short count', 'type1 §8 #61', [read(BAR0, MiB - 2, 4, { ret: 2 })]),
  dev('a read of length 0 → 0', 'type1 §4.7 (count 0)', [read(BAR0, 0, 0, { ret: 0 })]),
  dev('BAR1 (unimplemented) → EINVAL', 'type1 §4.7 BAR (not assigned)', [
    read(uapi.VFIO_PCI_BAR1_REGION_INDEX, 0, 4, { errno: 'EINVAL' }),
  ]),
  dev('ROM write → EINVAL', 'type1 §8 #61', [
    write(uapi.VFIO_PCI_ROM_REGION_INDEX, 0, '00000000', { errno: 'EINVAL' }),
  ]),
  dev('BAR0 read with memory decode off → EIO, back on after COMMAND.MEMORY is set', 'type1 §8 #62', [
    write(CONFIG, 4, '0000', { ret: 2 }),
    read(BAR0, 0, 4, { errno: 'EIO' }),
    write(CONFIG, 4, '0200', { ret: 2 }),
    read(BAR0, 0, 4, { data: eduIdent }),
  ]),
];
