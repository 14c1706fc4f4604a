// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { errnoName, errnoNumber, systemConstants, UapiError } from '../src/index.js';

describe("system constants come from each ABI's own sysroot", () => {
  it('errno names and numbers', () => {
    expect(errnoNumber('ENOENT')).toBe(2);
    expect(errnoName(16)).toBe('EBUSY');
    expect(errnoName(-22)).toBe('EINVAL');
    expect(errnoNumber('EDEADLOCK', 'x86_64')).toBe(35);
    expect(errnoNumber('EDEADLOCK', 'ppc64le')).toBe(58);
    expect(() => errnoNumber('ENOTANERRNO')).toThrowError(UapiError);
  });

  it('FIONREAD differs between powerpc and the generic encoding', () => {
    expect(systemConstants('x86_64').FIONREAD).toBe(0x541b);
    expect(systemConstants('ppc64le').FIONREAD).toBe(0x4004667f);
    expect(systemConstants('x86_64').O_RDWR).toBe(2);
  });
});
