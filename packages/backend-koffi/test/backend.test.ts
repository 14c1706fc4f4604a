// SPDX-License-Identifier: MIT
/**
 * Real system calls on this host, real errno. None of these need /dev/vfio: VFIO ioctls are sent to pipes and
 * regular files, where the kernel's answer (ENOTTY, EBADF) is as real as it gets.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { codec, ioctlNumber, minArgsz, systemConstants } from '@vfio-ts/uapi';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKoffiBackend } from '../src/backend.js';
import { expectErrno, expectRefused, makePipe, openFdCount } from './helpers.js';

const backend = createKoffiBackend();
const arch = backend.arch;
const sc = systemConstants(arch);

let dir: string;
let fdsBefore: number;
let mappingsBefore: number;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfio-ts-koffi-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  fdsBefore = openFdCount();
  mappingsBefore = backend.liveMappings;
});
afterEach(() => {
  // Every test, passing or failing, must give back what it took.
  expect(openFdCount()).toBe(fdsBefore);
  expect(backend.liveMappings).toBe(mappingsBefore);
});

/** A closed fd number: opened and closed right here, so nothing else owns it at this instant. */
function closedFd(): number {
  const fd = openSync('/dev/null', 'r');
  closeSync(fd);
  return fd;
}

describe('load', () => {
  it('speaks this host ABI with its page size', () => {
    expect(backend.name).toBe('koffi');
    expect(arch).toBe({ x64: 'x86_64', arm64: 'aarch64', ppc64: 'ppc64le' }[process.arch as string]);
    expect(backend.littleEndian).toBe(true);
    expect(backend.pageSize).toBe(Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()));
    expect(backend.koffiVersion).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('open', () => {
  const hasVfio = existsSync('/dev/vfio/vfio');

  it.skipIf(hasVfio)('fails with ENOENT and a hint on a host without /dev/vfio', () => {
    const error = expectErrno('ENOENT', 'open', () => backend.open('/dev/vfio/vfio'));
    expect(error.errno).toBe(-2);
    expect(error.path).toBe('/dev/vfio/vfio');
    expect(error.hint).toMatch(/modprobe vfio-pci/);
    expect(error.message).toMatch(/^ENOENT: open '\/dev\/vfio\/vfio' failed/);
  });
  if (hasVfio) console.log('skipped the ENOENT case: this host has /dev/vfio/vfio');

  it('names the group to bind when a group node is missing', () => {
    const error = expectErrno('ENOENT', 'open', () => backend.open('/dev/vfio/4242'));
    expect(error.hint).toMatch(/driver_override/);
  });

  it('opens and closes an ordinary file with O_RDWR | O_CLOEXEC by default', () => {
    const path = join(dir, 'plain');
    writeFileSync(path, 'x');
    const fd = backend.open(path);
    expect(backend.openFds.get(fd)).toBe('other');
    const flags = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/flags:\s+(\d+)/)![1]!;
    // fdinfo prints the flags in octal.
    expect(Number.parseInt(flags, 8) & sc.O_CLOEXEC).toBe(sc.O_CLOEXEC);
    expect(Number.parseInt(flags, 8) & 3).toBe(sc.O_RDWR);
    backend.close(fd);
    expect(backend.openFds.has(fd)).toBe(false);
  });
});

describe('close', () => {
  it('of a closed fd is EBADF', () => {
    const error = expectErrno('EBADF', 'close', () => backend.close(closedFd()));
    expect(error.errno).toBe(-9);
  });
});

describe('ioctl', () => {
  it('reports EBADF on a closed fd, naming the ioctl', () => {
    const request = ioctlNumber('VFIO_GET_API_VERSION', arch);
    const error = expectErrno('EBADF', 'ioctl', () =>
      backend.ioctl(closedFd(), request, undefined, { name: 'VFIO_GET_API_VERSION' }),
    );
    expect(error.ioctl).toBe('VFIO_GET_API_VERSION');
    expect(error.message).toContain('VFIO_GET_API_VERSION');
  });

  it('reports ENOTTY for a VFIO ioctl on a pipe and on a regular file', () => {
    const [r, w] = makePipe();
    const file = openSync(join(dir, 'not-a-device'), 'w+');
    try {
      for (const fd of [r, file]) {
        const error = expectErrno('ENOTTY', 'ioctl', () =>
          backend.ioctl(fd, ioctlNumber('VFIO_GET_API_VERSION', arch), undefined, { name: 'VFIO_GET_API_VERSION' }),
        );
        expect(error.message).toMatch(/^ENOTTY: VFIO_GET_API_VERSION failed/);
        expect(error.fd).toBe(fd);
      }
      // A struct ioctl with a well-formed buffer reaches the kernel too, and gets the same answer.
      const info = codec('vfio_device_info', arch);
      const buffer = info.encode({ argsz: info.size });
      expectErrno('ENOTTY', 'ioctl', () =>
        backend.ioctl(r, ioctlNumber('VFIO_DEVICE_GET_INFO', arch), buffer, { name: 'VFIO_DEVICE_GET_INFO' }),
      );
    } finally {
      backend.close(r);
      backend.close(w);
      closeSync(file);
    }
  });

  it('passes a buffer by pointer and reads back what the kernel wrote (FIONREAD on a pipe)', () => {
    const [r, w] = makePipe();
    try {
      writeFileSync(w, 'hello, vfio');
      const count = new Uint8Array(8).fill(0xff);
      const inner = count.subarray(2, 6);
      expect(backend.ioctl(r, sc.FIONREAD, inner, { name: 'FIONREAD' })).toBe(0);
      expect(new DataView(inner.buffer, inner.byteOffset, 4).getInt32(0, backend.littleEndian)).toBe(11);
      // byteOffset was honoured: the bytes around the subarray are untouched.
      expect([count[0], count[1], count[6], count[7]]).toEqual([0xff, 0xff, 0xff, 0xff]);
    } finally {
      backend.close(r);
      backend.close(w);
    }
  });

  describe('refuses, before any system call, arguments the kernel would read or write past', () => {
    // A closed fd proves no call was made: the kernel would have answered EBADF.
    const name = 'VFIO_DEVICE_GET_INFO';

    it('a struct buffer shorter than the ioctl minimum size', () => {
      const short = new Uint8Array(minArgsz(name, arch) - 1);
      const error = expectRefused('VFIO_TS_SHORT_BUFFER', () =>
        backend.ioctl(closedFd(), ioctlNumber(name, arch), short, { name }),
      );
      expect(error.message).toContain(name);
    });

    it('an argsz larger than the buffer', () => {
      const info = codec('vfio_device_info', arch);
      const lying = info.encode({ argsz: info.size + 64 });
      expect(lying.length).toBeGreaterThanOrEqual(minArgsz(name, arch));
      expectRefused('VFIO_TS_ARGSZ_EXCEEDS_BUFFER', () =>
        backend.ioctl(closedFd(), ioctlNumber(name, arch), lying, { name }),
      );
    });

    it('an integer where the kernel expects a pointer', () => {
      expectRefused('VFIO_TS_BAD_ARGUMENT', () => backend.ioctl(closedFd(), ioctlNumber(name, arch), 4096, { name }));
    });

    it('a device name without its NUL terminator', () => {
      const get = 'VFIO_GROUP_GET_DEVICE_FD';
      const unterminated = new TextEncoder().encode('0000:00:03.0');
      expectRefused('VFIO_TS_BAD_ARGUMENT', () =>
        backend.ioctl(closedFd(), ioctlNumber(get, arch), unterminated, { name: get }),
      );
    });

    it('an int pointer shorter than its int', () => {
      const set = 'VFIO_GROUP_SET_CONTAINER';
      expectRefused('VFIO_TS_SHORT_BUFFER', () =>
        backend.ioctl(closedFd(), ioctlNumber(set, arch), new Uint8Array(2), { name: set }),
      );
    });

    it('a request number that is not the named ioctl on this arch', () => {
      expectRefused('VFIO_TS_IOCTL_MISMATCH', () =>
        backend.ioctl(closedFd(), ioctlNumber('VFIO_CHECK_EXTENSION', arch), undefined, {
          name: 'VFIO_GET_API_VERSION',
        }),
      );
    });
  });
});

describe('pread / pwrite', () => {
  it('read and write at an offset of a file', () => {
    const path = join(dir, 'rw');
    writeFileSync(path, 'abcdefgh');
    const fd = backend.open(path);
    try {
      const buffer = new Uint8Array(3);
      expect(backend.pread(fd, buffer, 2n)).toBe(3);
      expect(new TextDecoder().decode(buffer)).toBe('cde');
      expect(backend.pwrite(fd, new TextEncoder().encode('XY'), 6n)).toBe(2);
      expect(readFileSync(path, 'utf8')).toBe('abcdefXY');
      expect(backend.pread(fd, buffer, 100n)).toBe(0);
    } finally {
      backend.close(fd);
    }
  });

  it('fail with EBADF on a closed fd and on a read-only fd', () => {
    expectErrno('EBADF', 'pread', () => backend.pread(closedFd(), new Uint8Array(1), 0n));
    const fd = openSync(join(dir, 'ro'), 'w+');
    closeSync(fd);
    const ro = backend.open(join(dir, 'ro'), 0);
    try {
      expectErrno('EBADF', 'pwrite', () => backend.pwrite(ro, new Uint8Array(1), 0n));
    } finally {
      backend.close(ro);
    }
  });

  it('fail with ESPIPE on a pipe', () => {
    const [r, w] = makePipe();
    try {
      expectErrno('ESPIPE', 'pread', () => backend.pread(r, new Uint8Array(1), 0n));
    } finally {
      backend.close(r);
      backend.close(w);
    }
  });
});

describe('mmap / munmap', () => {
  it('gives page-rounded anonymous memory with a live zero-copy view', () => {
    const mapping = backend.mmap({ length: 100 });
    try {
      expect(mapping.length).toBe(backend.pageSize);
      expect(mapping.bytes.length).toBe(backend.pageSize);
      expect(mapping.address % BigInt(backend.pageSize)).toBe(0n);
      expect(mapping.bytes.every((b) => b === 0)).toBe(true);
      // The kernel writes into the mapping through its address (pread into the view's own memory) ...
      const path = join(dir, 'source');
      writeFileSync(path, 'DMA-ish');
      const fd = backend.open(path);
      try {
        expect(backend.pread(fd, mapping.bytes.subarray(16), 0n)).toBe(7);
        expect(new TextDecoder().decode(mapping.bytes.subarray(16, 23))).toBe('DMA-ish');
        // ... and reads what JS wrote there.
        mapping.bytes.set(new TextEncoder().encode('from js'), 64);
        expect(backend.pwrite(fd, mapping.bytes.subarray(64, 71), 0n)).toBe(7);
        expect(readFileSync(path, 'utf8')).toBe('from js');
      } finally {
        backend.close(fd);
      }
    } finally {
      backend.munmap(mapping);
    }
  });

  it('maps a file region shared, as a device region is mapped', () => {
    const path = join(dir, 'region');
    writeFileSync(path, Buffer.alloc(backend.pageSize * 2, 0x11));
    const fd = backend.open(path);
    try {
      const mapping = backend.mmap({ length: backend.pageSize, fd, offset: BigInt(backend.pageSize) });
      try {
        expect(mapping.bytes[0]).toBe(0x11);
        mapping.bytes[0] = 0x22;
        expect(readFileSync(path)[backend.pageSize]).toBe(0x22);
        expect(readFileSync('/proc/self/maps', 'utf8')).toContain(path);
      } finally {
        backend.munmap(mapping);
      }
    } finally {
      backend.close(fd);
    }
  });

  it('releases a region at munmap and leaves stale views harmless', () => {
    const path = join(dir, 'released');
    writeFileSync(path, Buffer.alloc(backend.pageSize, 0x11));
    const fd = backend.open(path);
    let stale: Uint8Array;
    try {
      const mapping = backend.mmap({ length: backend.pageSize, fd });
      stale = mapping.bytes;
      backend.munmap(mapping);
      expect(readFileSync('/proc/self/maps', 'utf8')).not.toContain(path);
    } finally {
      backend.close(fd);
    }
    // A stale view reads zeros and its writes reach nothing, rather than crashing or aliasing a later mapping.
    expect(stale[0]).toBe(0);
    stale[0] = 0x33;
    expect(readFileSync(path)[0]).toBe(0x11);
  });

  it('gives touched memory back at munmap', () => {
    const rssBefore = status('VmRSS');
    for (let i = 0; i < 32; i++) {
      const mapping = backend.mmap({ length: 16 * 1024 * 1024 });
      mapping.bytes.fill(1); // touch every page, so the memory is really there
      backend.munmap(mapping);
    }
    // 32 x 16 MiB would be 512 MiB resident if munmap kept it.
    expect(status('VmRSS') - rssBefore).toBeLessThan(64 * 1024);
  });

  it('refuses a double munmap and a mapping it did not make', () => {
    const mapping = backend.mmap({ length: 1 });
    backend.munmap(mapping);
    const error = expectErrno('EINVAL', 'munmap', () => backend.munmap(mapping));
    expect(error.message).toContain(mapping.address.toString(16));

    const live = backend.mmap({ length: 1 });
    try {
      const forged = { address: live.address, length: live.length, bytes: live.bytes };
      expectErrno('EINVAL', 'munmap', () => backend.munmap(forged));
      const other = createKoffiBackend();
      expectErrno('EINVAL', 'munmap', () => other.munmap(live));
    } finally {
      backend.munmap(live);
    }
  });

  it('reports the errno of a failed mmap and keeps nothing', () => {
    const error = expectErrno('EBADF', 'mmap', () => backend.mmap({ length: 4096, fd: closedFd() }));
    expect(error.fd).toBeTypeOf('number');
    expectErrno('EINVAL', 'mmap', () => backend.mmap({ length: 0 }));
  });

  it('returns the address space of unmapped ranges once their views are garbage-collected', async () => {
    const sizeBefore = status('VmSize');
    for (let i = 0; i < 32; i++) backend.munmap(backend.mmap({ length: 16 * 1024 * 1024 }));
    for (let i = 0; i < 3; i++) {
      forceGc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // 32 x 16 MiB = 512 MiB of address space if ranges were never given back.
    expect(status('VmSize') - sizeBefore).toBeLessThan(4 * 16 * 1024);
  });
});

/** A field of /proc/self/status, in KiB. */
function status(field: string): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

function forceGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('eventfd', () => {
  it('round-trips a counter without blocking the event loop', async () => {
    const fd = backend.eventfd();
    try {
      expect(backend.openFds.get(fd)).toBe('eventfd');
      backend.writeEventfd(fd, 5n);
      expect(await backend.readEventfd(fd)).toBe(5n);

      // Nothing pending: the read waits on libuv while timers keep running, then the write wakes it.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const pending = backend.readEventfd(fd);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(ticks).toBeGreaterThan(3);
      backend.writeEventfd(fd, 2n);
      backend.writeEventfd(fd, 3n);
      expect(await pending).toBe(5n);
      clearInterval(timer);
    } finally {
      backend.close(fd);
    }
  });

  it('waits on a blocking eventfd without blocking the event loop', async () => {
    const fd = backend.eventfd(0, sc.EFD_CLOEXEC);
    try {
      setTimeout(() => backend.writeEventfd(fd, 7n), 30);
      expect(await backend.readEventfd(fd)).toBe(7n);
    } finally {
      backend.close(fd);
    }
  });

  it('honours an AbortSignal', async () => {
    const fd = backend.eventfd();
    try {
      const controller = new AbortController();
      const pending = backend.readEventfd(fd, { signal: controller.signal });
      controller.abort(new Error('stop waiting'));
      await expect(pending).rejects.toThrow('stop waiting');
      await expect(backend.readEventfd(fd, { signal: AbortSignal.abort() })).rejects.toBeDefined();
      // The counter is still there for the next reader: the aborted read consumed nothing.
      backend.writeEventfd(fd, 1n);
      expect(await backend.readEventfd(fd)).toBe(1n);
    } finally {
      backend.close(fd);
    }
  });

  it('serves concurrent readers of one eventfd oldest first, and lets one of them abort', async () => {
    const fd = backend.eventfd();
    try {
      const first = backend.readEventfd(fd);
      const controller = new AbortController();
      const aborted = backend.readEventfd(fd, { signal: controller.signal });
      const third = backend.readEventfd(fd);
      controller.abort(new Error('not me'));
      await expect(aborted).rejects.toThrow('not me');
      backend.writeEventfd(fd, 1n);
      expect(await first).toBe(1n);
      backend.writeEventfd(fd, 2n);
      expect(await third).toBe(2n);
    } finally {
      backend.close(fd);
    }
  });

  it('ends a pending read with EBADF when the eventfd is closed', async () => {
    const fd = backend.eventfd();
    const first = backend.readEventfd(fd);
    const second = backend.readEventfd(fd);
    backend.close(fd);
    await expect(first).rejects.toMatchObject({ code: 'EBADF', syscall: 'read', fd });
    await expect(second).rejects.toMatchObject({ code: 'EBADF', syscall: 'read', fd });
    // The descriptor number is free again and a new eventfd on it works normally.
    const again = backend.eventfd();
    try {
      backend.writeEventfd(again, 9n);
      expect(await backend.readEventfd(again)).toBe(9n);
    } finally {
      backend.close(again);
    }
  });

  it('reports EBADF for a closed eventfd and EINVAL for an overflowing write', async () => {
    await expect(backend.readEventfd(closedFd())).rejects.toMatchObject({ code: 'EBADF', syscall: 'read' });
    const [r, w] = makePipe();
    try {
      await expect(backend.readEventfd(r)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'read', fd: r });
    } finally {
      backend.close(r);
      backend.close(w);
    }
    const fd = backend.eventfd();
    try {
      expectErrno('EINVAL', 'write', () => backend.writeEventfd(fd, (1n << 64n) - 1n));
    } finally {
      backend.close(fd);
    }
  });
});
