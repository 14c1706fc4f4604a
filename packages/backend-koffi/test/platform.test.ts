// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { createKoffiBackend } from '../src/backend.js';
import { currentPlatform, detectArch, type PlatformInfo } from '../src/platform.js';
import { expectRefused } from './helpers.js';

const linux = (arch: string, endianness: 'LE' | 'BE' = 'LE'): PlatformInfo => ({
  platform: 'linux',
  arch,
  endianness,
  glibc: '2.36',
});

describe('detectArch', () => {
  it('maps the supported Node platforms to vfio-ts ABI names', () => {
    expect(detectArch(linux('x64'))).toBe('x86_64');
    expect(detectArch(linux('arm64'))).toBe('aarch64');
    expect(detectArch(linux('ppc64'))).toBe('ppc64le');
  });

  it.each([
    ['big-endian ppc64', linux('ppc64', 'BE'), /ppc64 \(big-endian\)/],
    ['32-bit x86', linux('ia32'), /not ia32/],
    ['macOS', { ...linux('arm64'), platform: 'darwin' }, /'darwin'/],
    ['musl', { ...linux('x64'), glibc: undefined }, /glibc/],
  ])('refuses %s and names the simulator', (_what, info, detail) => {
    const error = expectRefused('VFIO_TS_UNSUPPORTED_PLATFORM', () => detectArch(info));
    expect(error.message).toMatch(detail);
    expect(error.message).toContain('@vfio-ts/backend-sim');
  });

  it('is what createKoffiBackend refuses with, before loading koffi', () => {
    expectRefused('VFIO_TS_UNSUPPORTED_PLATFORM', () => createKoffiBackend({ platform: linux('ppc64', 'BE') }));
  });

  it('reads this process', () => {
    const info = currentPlatform();
    expect(info.platform).toBe(process.platform);
    expect(info.arch).toBe(process.arch);
    if (process.platform === 'linux') expect(info.glibc).toMatch(/^\d+\.\d+/);
  });
});
