// SPDX-License-Identifier: MIT
import { codec, ioctlNumber, minArgsz } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { VfioSystemError, VfioTsError } from '../../src/errors.js';
import { callInt, callIntPointer, callNone, callString, callStruct, openNode } from '../../src/internal/ioctl.js';
import { RecordingBackend } from '../recording-backend.js';

describe('callStruct', () => {
  it('derives argsz from the bytes passed, whatever the caller says', () => {
    const b = new RecordingBackend('x86_64');
    const c = codec('vfio_group_status', 'x86_64');
    callStruct(b, 5, 'group', 'VFIO_GROUP_GET_STATUS', { argsz: 999 } as never);
    const arg = b.ioctls[0]!.arg as Uint8Array;
    expect(arg.length).toBe(c.size);
    expect(c.decode(arg).argsz).toBe(c.size);
    expect(c.size).toBeGreaterThanOrEqual(minArgsz('VFIO_GROUP_GET_STATUS', 'x86_64'));
  });

  it('uses the request number of the backend architecture and names the ioctl', () => {
    for (const arch of ['x86_64', 'ppc64le', 'ppc64'] as const) {
      const b = new RecordingBackend(arch);
      callStruct(b, 5, 'container', 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 30n, levels: 1 });
      const call = b.ioctls[0]!;
      expect(call.request).toBe(ioctlNumber('VFIO_IOMMU_SPAPR_TCE_CREATE', arch));
      expect(call.name).toBe('VFIO_IOMMU_SPAPR_TCE_CREATE');
      expect(call.names).toContain('VFIO_IOMMU_SPAPR_TCE_CREATE');
    }
    expect(ioctlNumber('VFIO_IOMMU_SPAPR_TCE_CREATE', 'ppc64')).not.toBe(
      ioctlNumber('VFIO_IOMMU_SPAPR_TCE_CREATE', 'x86_64'),
    );
  });

  it('encodes in the backend byte order', () => {
    const le = new RecordingBackend('ppc64le');
    const be = new RecordingBackend('ppc64');
    const value = { pageShift: 16, windowSize: 0x1_0000_0000n, levels: 2 };
    callStruct(le, 5, 'container', 'VFIO_IOMMU_SPAPR_TCE_CREATE', value);
    callStruct(be, 5, 'container', 'VFIO_IOMMU_SPAPR_TCE_CREATE', value);
    const leBytes = le.ioctls[0]!.arg as Uint8Array;
    const beBytes = be.ioctls[0]!.arg as Uint8Array;
    expect(codec('vfio_iommu_spapr_tce_create', 'ppc64').decode(beBytes)).toMatchObject({ ...value, argsz: 40 });
    expect(codec('vfio_iommu_spapr_tce_create', 'ppc64le').decode(leBytes)).toMatchObject({ ...value, argsz: 40 });
    expect([...beBytes.subarray(0, 4)]).toEqual([0, 0, 0, 40]);
    expect([...leBytes.subarray(0, 4)]).toEqual([40, 0, 0, 0]);
  });

  it('decodes what the kernel wrote back and returns the whole buffer', () => {
    const b = new RecordingBackend('x86_64', (_call, buffer) => {
      const c = codec('vfio_iommu_spapr_tce_create', 'x86_64');
      c.view(buffer!).startAddr = 0x0800_0000_0000_0000n;
      return 0;
    });
    const { value, bytes, result } = callStruct(b, 5, 'container', 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 12 });
    expect(result).toBe(0);
    expect(value.startAddr).toBe(0x0800_0000_0000_0000n);
    expect(value.pageShift).toBe(12);
    expect(bytes.length).toBe(40);
  });

  it('grows the buffer for a capability chain and puts trailing data after the struct', () => {
    const b = new RecordingBackend('x86_64');
    callStruct(b, 5, 'container', 'VFIO_IOMMU_GET_INFO', {}, { bufferSize: 200 });
    const info = b.ioctls[0]!.arg as Uint8Array;
    expect(info.length).toBe(200);
    expect(codec('vfio_iommu_type1_info', 'x86_64').decode(info).argsz).toBe(200);

    const trailing = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    callStruct(b, 6, 'device', 'VFIO_DEVICE_SET_IRQS', { index: 1, count: 2 }, { trailing });
    const set = b.ioctls[1]!.arg as Uint8Array;
    const size = codec('vfio_irq_set', 'x86_64').size;
    expect(set.length).toBe(size + 8);
    expect(codec('vfio_irq_set', 'x86_64').decode(set).argsz).toBe(size + 8);
    expect([...set.subarray(size)]).toEqual([...trailing]);
  });

  it('refuses an ioctl on the wrong kind of fd before calling', () => {
    const b = new RecordingBackend('x86_64');
    expect(() => callStruct(b, 5, 'device', 'VFIO_GROUP_GET_STATUS', {})).toThrow(
      expect.objectContaining({ code: 'VFIO_TS_WRONG_FD_KIND' }),
    );
    expect(b.ioctls).toHaveLength(0);
  });
});

describe('errors', () => {
  const cases = [
    { name: 'VFIO_IOMMU_MAP_DMA', code: 'ENOMEM', fdKind: 'container', hint: /RLIMIT_MEMLOCK.*ulimit -l/ },
    { name: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', code: 'ENOMEM', fdKind: 'container', hint: /ulimit -l/ },
    { name: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', code: 'EBUSY', fdKind: 'container', hint: /still mapped/ },
    { name: 'VFIO_GROUP_GET_STATUS', code: 'EFAULT', fdKind: 'group', hint: undefined },
  ] as const;

  it.each(cases)('$code on $name carries the ioctl, the fd kind and the hint', ({ name, code, fdKind, hint }) => {
    const b = new RecordingBackend('ppc64le', () => RecordingBackend.fail(code));
    let error: unknown;
    try {
      callStruct(b, 7, fdKind, name, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VfioSystemError);
    const e = error as VfioSystemError;
    expect(e).toMatchObject({ code, syscall: 'ioctl', ioctl: name, fdKind, fd: 7 });
    expect(e.message).toContain(name);
    if (hint === undefined) expect(e.hint).toBeUndefined();
    else {
      expect(e.hint).toMatch(hint);
      expect(e.message).toMatch(hint);
    }
  });

  it('EPERM on VFIO_GROUP_SET_CONTAINER says the group is not viable', () => {
    const b = new RecordingBackend('x86_64', () => RecordingBackend.fail('EPERM'));
    expect(() => callIntPointer(b, 4, 'group', 'VFIO_GROUP_SET_CONTAINER', 3)).toThrow(
      expect.objectContaining({
        code: 'EPERM',
        ioctl: 'VFIO_GROUP_SET_CONTAINER',
        hint: expect.stringMatching(/not viable.*driver/),
      }),
    );
  });

  it('keeps a backend hint where the typed API has none', () => {
    const b = new RecordingBackend('x86_64', () => {
      throw new VfioSystemError(-5, { syscall: 'ioctl', hint: 'from the backend' });
    });
    expect(() => callNone(b, 4, 'device', 'VFIO_DEVICE_RESET')).toThrow(
      expect.objectContaining({ code: 'EIO', ioctl: 'VFIO_DEVICE_RESET', hint: 'from the backend' }),
    );
  });

  it('lets anything that is not a system error through unchanged', () => {
    const odd = new RangeError('backend bug');
    const b = new RecordingBackend('x86_64', () => {
      throw odd;
    });
    expect(() => callNone(b, 4, 'device', 'VFIO_DEVICE_RESET')).toThrow(odd);
  });

  it.each([
    ['/dev/vfio/vfio', /modprobe vfio-pci/],
    ['/dev/vfio/12', /no IOMMU group 12.*vfio-pci/],
  ])('ENOENT opening %s explains the module or binding', (path, hint) => {
    const b = new RecordingBackend('x86_64', undefined, 'ENOENT');
    expect(() => openNode(b, path)).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'open', path, hint: expect.stringMatching(hint) }),
    );
  });
});

describe('integer, pointer and string arguments', () => {
  it('passes an integer by value', () => {
    const b = new RecordingBackend('x86_64', () => 1);
    expect(callInt(b, 3, 'container', 'VFIO_CHECK_EXTENSION', 3)).toBe(1);
    expect(b.ioctls[0]!.arg).toBe(3);
  });

  it('passes an int * in the backend byte order', () => {
    for (const [arch, bytes] of [
      ['x86_64', [0x04, 0x03, 0x02, 0x01]],
      ['ppc64', [0x01, 0x02, 0x03, 0x04]],
    ] as const) {
      const b = new RecordingBackend(arch);
      callIntPointer(b, 9, 'group', 'VFIO_GROUP_SET_CONTAINER', 0x01020304);
      expect([...(b.ioctls[0]!.arg as Uint8Array)]).toEqual(bytes);
    }
  });

  it('passes a NUL-terminated string and refuses an embedded NUL', () => {
    const b = new RecordingBackend('x86_64', () => 11);
    expect(callString(b, 9, 'group', 'VFIO_GROUP_GET_DEVICE_FD', '0000:00:01.0')).toBe(11);
    const arg = b.ioctls[0]!.arg as Uint8Array;
    expect(new TextDecoder().decode(arg)).toBe('0000:00:01.0\0');
    expect(() => callString(b, 9, 'group', 'VFIO_GROUP_GET_DEVICE_FD', 'a\0b')).toThrow(VfioTsError);
    expect(b.ioctls).toHaveLength(1);
  });
});
