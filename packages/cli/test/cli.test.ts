// SPDX-License-Identifier: MIT
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { profiles } from '@vfio-ts/backend-sim';
import { bindDriver, checkInvariants } from '@vfio-ts/backend-sim/testing';
import { Group } from '@vfio-ts/core';
import { afterAll, describe, expect, test } from 'vitest';
import { type CliIo, inspect, run, runDemo, simHost, simHostFor } from '../src/index.js';
import { createOutput } from '../src/ui.js';

interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(argv: string[], extra: Partial<CliIo> & { tty?: boolean } = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: { write: (t: string) => (stdout += t), isTTY: extra.tty ?? false },
    stderr: { write: (t: string) => (stderr += t), isTTY: extra.tty ?? false },
    env: extra.env ?? {},
    ...(extra.root !== undefined ? { root: extra.root } : {}),
  });
  return { code, stdout, stderr };
}

const ESC = '\u001b[';
const plain = createOutput(() => {}, false);
const silent = { ...plain, write: () => {} };

describe('vfio-ts demo on the simulator', () => {
  test('x86_64-q35: type1v2, the bytes come back through the IOMMU, locked memory returns to its baseline', async () => {
    const host = simHost('x86_64-q35');
    const message = `type1 round trip ${Math.random()}`;
    const r = await runDemo(host, silent, { message });
    expect(r.iommu).toBe('type1v2');
    expect(new TextDecoder().decode(r.received)).toBe(message);
    expect(r.roundTripOk).toBe(true);
    expect(r.blockedAfterUnmap).toBe(true);
    expect(r.locked.baseline).toBe(0n);
    // Two pinned 4 KiB pages while mapped.
    expect(r.locked.peak).toBe(8192n);
    expect(r.locked.after).toBe(r.locked.baseline);
    expect(checkInvariants(host.sim!.kernel)).toEqual([]);
  });

  test('ppc64le-pseries: sPAPR v2, a dynamic window at 0x0800000000000000, TCE table and registrations uncharged after', async () => {
    const host = simHost('ppc64le-pseries');
    const r = await runDemo(host, silent, { message: 'through a DDW' });
    expect(r.iommu).toBe('spapr-v2');
    expect(new TextDecoder().decode(r.received)).toBe('through a DDW');
    expect(r.windows.map((w) => w.start)).toContain(0x0800_0000_0000_0000n);
    expect(r.iovas.every((iova) => iova >= 0x0800_0000_0000_0000n)).toBe(true);
    // Registration (8 KiB) plus the TCE table(s) were charged; all of it is given back.
    expect(r.locked.peak! > 8192n).toBe(true);
    expect(r.locked.after).toBe(0n);
    expect(r.blockedAfterUnmap).toBe(true);
  });

  test('a device that cannot reach the window makes the round trip fail, and the demo says so', async () => {
    // QEMU's default edu dma_mask (28 bits) cannot address 0x0800000000000000: the DMA lands outside any mapping.
    const host = simHostFor({ ...profiles['ppc64le-pseries']!, eduDmaMask: (1n << 28n) - 1n });
    const lines: string[] = [];
    const r = await runDemo(
      host,
      createOutput((t) => lines.push(t), false),
      { message: 'lost' },
    );
    expect(r.roundTripOk).toBe(false);
    expect(new TextDecoder().decode(r.received)).not.toBe('lost');
    expect(lines.join('')).toContain('✗ mismatch');
    expect(lines.join('')).toContain('-device edu,dma_mask=0xffffffffffffffff');
    expect(r.locked.after).toBe(0n);
  });

  test('`vfio-ts demo` runs both profiles by default, plain text when not a terminal', async () => {
    const r = await cli(['demo']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('simulated x86_64-q35');
    expect(r.stdout).toContain('simulated ppc64le-pseries');
    expect(r.stdout).toContain('VFIO_IOMMU_SPAPR_TCE_CREATE');
    expect(r.stdout).toMatch(/read back "hello from vfio-ts[^"]*" {2}✓ \d+ bytes match/);
    expect(r.stdout.match(/back to the baseline/g)).toHaveLength(2);
    expect(r.stdout).not.toContain(ESC);
  });

  test('colour on a terminal and with FORCE_COLOR, never with NO_COLOR or --no-color', async () => {
    const tty = await cli(['demo', '--profile', 'x86_64-q35'], { tty: true, env: {} });
    expect(tty.stdout).toContain(ESC);
    expect(stripVTControlCharacters(tty.stdout)).toContain('✓ viable');
    expect(
      (await cli(['demo', '--profile', 'x86_64-q35'], { tty: true, env: { NO_COLOR: '1' } })).stdout,
    ).not.toContain(ESC);
    expect((await cli(['demo', '--profile', 'x86_64-q35', '--no-color'], { tty: true, env: {} })).stdout).not.toContain(
      ESC,
    );
    expect((await cli(['demo', '--profile', 'x86_64-q35'], { env: { FORCE_COLOR: '1' } })).stdout).toContain(ESC);
  });

  test('a group that is not viable stops the demo with the device to unbind', async () => {
    const host = simHost('x86_64-q35');
    bindDriver(host.sim!.kernel, '0000:00:01.0', 'host');
    await expect(runDemo(host, silent)).rejects.toMatchObject({
      code: 'VFIO_TS_CLI_NOT_VIABLE',
      advice: [expect.stringContaining('0000:00:01.0 is bound to host: unbind it')],
    });
    expect(host.lockedBytes()).toBe(0n);
    expect(checkInvariants(host.sim!.kernel)).toEqual([]);
  });

  test('options and commands it does not know are refused with the usage', async () => {
    expect(await cli(['demo', '--profile', 'sparc'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown simulator profile'),
    });
    expect(await cli(['demo', '--group', 'one'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--group takes an IOMMU group number'),
    });
    expect(await cli(['demo', '--group', '7'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('IOMMU group 7 does not exist'),
    });
    expect(await cli(['frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringContaining('usage: vfio-ts') });
    expect(await cli(['demo', '--frob'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Unknown option '--frob'"),
    });
  });
});

describe('vfio-ts inspect', () => {
  test('--sim x86_64-q35 --json: groups, devices, regions, IRQs and the type1 capabilities', async () => {
    const r = await cli(['inspect', '--sim', 'x86_64-q35', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.extensions).toMatchObject({ VFIO_TYPE1v2_IOMMU: true, VFIO_SPAPR_TCE_v2_IOMMU: false });
    const edu = report.groups[0].devices[0];
    expect(edu).toMatchObject({ name: '0000:00:01.0', id: '1234:11e8', driver: 'vfio-pci' });
    expect(edu.regions.find((x: { name: string }) => x.name === 'BAR0')).toMatchObject({ size: '0x100000' });
    expect(edu.regions.find((x: { name: string }) => x.name === 'CONFIG')).toMatchObject({ offset: '0x70000000000' });
    expect(edu.irqs.map((q: { name: string }) => q.name)).toContain('MSI');
    expect(report.groups[0].iommu).toMatchObject({ model: 'type1v2', pageSizes: '0x40201000', dmaAvail: 65535 });
  });

  test('--sim ppc64le-pseries: the sPAPR default window and DDW limits, as text', async () => {
    const r = await cli(['inspect', '--sim', 'ppc64le-pseries']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('IOMMU spapr-v2');
    expect(r.stdout).toMatch(/dynamic windows: up to 2, page sizes 4 KiB, 64 KiB, 2 MiB, 16 MiB/);
    expect(r.stdout).toMatch(/0x0 +1 GiB +4 KiB +default 32-bit/);
    expect(r.stdout).toContain('0001:00:01.0  8086:100e e1000');
  });

  test('a non-viable group is reported with what to do, and the others are still inspected', () => {
    const host = simHost('x86_64-q35');
    bindDriver(host.sim!.kernel, '0000:00:02.0', 'host');
    const report = inspect(host);
    const [one, two] = report.groups;
    expect(one!.iommu?.model).toBe('type1v2');
    expect(two).toMatchObject({ viable: false, error: expect.stringContaining('not viable') });
    expect(two!.advice![0]).toContain('echo vfio-pci > /sys/bus/pci/devices/0000:00:02.0/driver_override');
    expect(host.lockedBytes()).toBe(0n);
  });

  test('a group already open elsewhere is reported, not thrown', () => {
    const host = simHost('x86_64-q35');
    const holder = Group.open(host.backend, 2);
    const report = inspect(host);
    expect(report.groups[1]).toMatchObject({
      id: 2,
      error: '/dev/vfio/2 is already open (a group opens once, in one process)',
    });
    expect(report.groups[0]!.devices[0]!.regions!.length).toBeGreaterThan(0);
    holder.close();
  });
});

describe('--backend koffi on a host without VFIO', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });
  const fakeRoot = (withDevVfio: boolean) => {
    const root = mkdtempSync(join(tmpdir(), 'vfio-ts-cli-'));
    roots.push(root);
    if (withDevVfio) mkdirSync(join(root, 'dev/vfio'), { recursive: true });
    return root;
  };

  test('no /dev/vfio: demo and inspect say how to load VFIO and point at the simulator', async () => {
    const root = fakeRoot(false);
    for (const argv of [['demo', '--backend', 'koffi'], ['inspect']]) {
      const r = await cli(argv, { root });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('/dev/vfio does not exist: VFIO is not available on this host');
      expect(r.stderr).toContain('modprobe vfio-pci');
      expect(r.stderr).toContain('intel_iommu=on');
      expect(r.stderr).toContain('vfio-ts inspect --sim x86_64-q35');
    }
  });

  test('/dev/vfio without its container node: the vfio module is not loaded', async () => {
    const r = await cli(['inspect'], { root: fakeRoot(true) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/dev/vfio/vfio does not exist: the vfio module is not loaded');
  });

  /** A root with /dev/vfio/vfio and one IOMMU group in sysfs holding `device` (vendor:device) bound to `driver`. */
  const fakeHost = (group: number, name: string, id: string, driver: string | null, node: boolean) => {
    const root = fakeRoot(true);
    writeFileSync(join(root, 'dev/vfio/vfio'), '');
    if (node) writeFileSync(join(root, `dev/vfio/${group}`), '');
    const dir = join(root, `sys/kernel/iommu_groups/${group}/devices/${name}`);
    mkdirSync(dir, { recursive: true });
    const [vendor, device] = id.split(':');
    writeFileSync(join(dir, 'vendor'), `0x${vendor}\n`);
    writeFileSync(join(dir, 'device'), `0x${device}\n`);
    if (driver !== null) {
      mkdirSync(join(root, 'sys/bus/pci/drivers', driver), { recursive: true });
      symlinkSync(join(root, 'sys/bus/pci/drivers', driver), join(dir, 'driver'));
    }
    return root;
  };

  test('an edu device still on its host driver: the demo says how to hand it to vfio-pci', async () => {
    const r = await cli(['demo', '--backend', 'koffi'], {
      root: fakeHost(3, '0000:00:05.0', '1234:11e8', 'edu-host', false),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('IOMMU group 3 (with 0000:00:05.0) has no /dev/vfio/3');
    expect(r.stderr).toContain('0000:00:05.0 (now bound to edu-host)');
    expect(r.stderr).toContain('echo vfio-pci > /sys/bus/pci/devices/0000:00:05.0/driver_override');
    expect(r.stderr).toContain('echo 0000:00:05.0 > /sys/bus/pci/devices/0000:00:05.0/driver/unbind');
  });

  test('no edu device on the host: the demo says how to get one', async () => {
    const r = await cli(['demo', '--backend', 'koffi'], {
      root: fakeHost(4, '0000:00:02.0', '8086:100e', 'vfio-pci', true),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no edu device (1234:11e8) found in any IOMMU group');
    expect(r.stderr).toContain('-device edu');
    const missing = await cli(['demo', '--backend', 'koffi', '--group', '9'], {
      root: fakeHost(4, '0000:00:02.0', '8086:100e', 'vfio-pci', true),
    });
    expect(missing.stderr).toContain('IOMMU group 9 does not exist');
    expect(missing.stderr).toContain('groups here: 4');
  });

  test('--profile means nothing on a real host', async () => {
    const r = await cli(['demo', '--backend', 'koffi', '--profile', 'x86_64-q35']);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('--profile picks a simulated machine') });
  });
});

test('catalogue still lists every ioctl with its request number per ABI', async () => {
  const r = await cli(['catalogue']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /VFIO_IOMMU_SPAPR_TCE_CREATE\s+container\s+spapr-v2\s+struct vfio_iommu_spapr_tce_create .*0x3b77 .*0x20003b77/,
  );
});

test('`npm start` at the root runs the demo from source, with no build, as a child process', async () => {
  const repo = join(import.meta.dirname, '../../..');
  const { stdout, stderr } = await promisify(execFile)('npm', ['start', '--silent'], {
    cwd: repo,
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', npm_config_loglevel: 'error' },
  });
  expect(stdout).toContain('simulated x86_64-q35');
  expect(stdout).toContain('simulated ppc64le-pseries');
  expect(stdout.match(/✓ \d+ bytes match/g)).toHaveLength(2);
  expect(stdout.match(/back to the baseline/g)).toHaveLength(2);
  expect(stdout).not.toContain(ESC);
  expect(stderr).not.toMatch(/Error/);
});
