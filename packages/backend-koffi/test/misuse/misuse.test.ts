// SPDX-License-Identifier: MIT
/**
 * The koffi backend under misuse on this host, beyond test/backend.test.ts: struct views that are windows into a
 * larger buffer (the kernel must see only the view), buffers detached by a transfer, fds of the wrong kind for
 * the call (eventfd reads on pipes and files, positional I/O on an eventfd, VFIO ioctls on an eventfd), memory
 * used after munmap as an argument, and the same fd closed from two places. Every case ends in a clear error
 * (VfioSystemError with the errno, or a VFIO_TS_* refusal) or a harmless no-op — never a crash — and gives back
 * every fd and mapping it took.
 */
import { closeSync, openSync } from 'node:fs';
import { codec, ioctlNumber, minArgsz, systemConstants } from '@vfio-ts/uapi';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKoffiBackend } from '../../src/backend.js';
import { expectErrno, expectRefused, makePipe, openFdCount, thrown } from '../helpers.js';

const backend = createKoffiBackend();
const arch = backend.arch;
const sc = systemConstants(arch);

let fdsBefore = 0;
let mappingsBefore = 0;
beforeEach(() => {
  fdsBefore = openFdCount();
  mappingsBefore = backend.liveMappings;
});
afterEach(() => {
  expect(openFdCount()).toBe(fdsBefore);
  expect(backend.liveMappings).toBe(mappingsBefore);
});

function closedFd(): number {
  const fd = openSync('/dev/null', 'r');
  closeSync(fd);
  return fd;
}

/** A clear error: a VfioSystemError carrying an errno code, or a VfioTsError refusal with a VFIO_TS_* code. */
function expectClearError(fn: () => unknown): { code: string; message: string } {
  const e = thrown(fn);
  expect(['VfioSystemError', 'VfioTsError']).toContain(e.name);
  expect(typeof e.code).toBe('string');
  expect(e.message.length).toBeGreaterThan(10);
  return e;
}

describe('struct buffers the caller tries to make too short', () => {
  const name = 'VFIO_DEVICE_GET_INFO';
  const info = codec('vfio_device_info', arch);

  it('a view into a larger ArrayBuffer is bounded by the view, not by the buffer behind it', () => {
    // argsz claims 64 bytes more than the view holds; the bytes exist in the ArrayBuffer, but are not the caller's.
    const backing = new Uint8Array(4096);
    const view = backing.subarray(128, 128 + info.size);
    info.encodeInto({ argsz: info.size + 64 } as never, view);
    expectRefused('VFIO_TS_ARGSZ_EXCEEDS_BUFFER', () =>
      backend.ioctl(closedFd(), ioctlNumber(name, arch), view, { name }),
    );
  });

  it('a view shorter than the minimum at a non-zero offset', () => {
    const backing = new Uint8Array(4096);
    const view = backing.subarray(1000, 1000 + minArgsz(name, arch) - 1);
    expectRefused('VFIO_TS_SHORT_BUFFER', () => backend.ioctl(closedFd(), ioctlNumber(name, arch), view, { name }));
  });

  it('a buffer detached by a transfer is refused, not read', () => {
    const buf = info.encode({ argsz: info.size } as never);
    structuredClone(buf.buffer, { transfer: [buf.buffer as ArrayBuffer] });
    expect(buf.byteLength).toBe(0);
    const e = expectClearError(() => backend.ioctl(closedFd(), ioctlNumber(name, arch), buf, { name }));
    expect(e.code).toMatch(/^VFIO_TS_/);
  });

  it('an argsz of 0 or below the minimum inside a full-size buffer reaches the kernel unchanged (EBADF here)', () => {
    // The kernel checks argsz itself (EINVAL on a device); the backend must not "fix" it.
    for (const argsz of [0, 4]) {
      const buf = info.encode({ argsz } as never);
      expectErrno('EBADF', 'ioctl', () => backend.ioctl(closedFd(), ioctlNumber(name, arch), buf, { name }));
    }
  });
});

describe('fds of the wrong kind', () => {
  it('a VFIO ioctl on an eventfd is ENOTTY', () => {
    const efd = backend.eventfd();
    try {
      expectErrno('ENOTTY', 'ioctl', () => backend.ioctl(efd, ioctlNumber('VFIO_GET_API_VERSION', arch)));
    } finally {
      backend.close(efd);
    }
  });

  it('pread/pwrite on an eventfd fail with the errno, no crash', () => {
    const efd = backend.eventfd();
    try {
      expectClearError(() => backend.pread(efd, new Uint8Array(8), 0n));
      expectClearError(() => backend.pwrite(efd, new Uint8Array(8), 0n));
    } finally {
      backend.close(efd);
    }
  });

  it('readEventfd/writeEventfd on a pipe or a regular file: a clear error, and the fd is still usable', async () => {
    const [r, w] = makePipe();
    const file = backend.open('/dev/null');
    try {
      for (const fd of [r, file]) {
        let error: any;
        try {
          await backend.readEventfd(fd, { signal: AbortSignal.timeout(2000) });
        } catch (e) {
          error = e;
        }
        expect(error, `readEventfd(${fd}) must fail`).toBeDefined();
        expect(['VfioSystemError', 'VfioTsError']).toContain(error.name);
      }
      // write(2) of the counter to a pipe's read end: EBADF. (To /dev/null it is a valid, harmless write.)
      expectClearError(() => backend.writeEventfd(r, 1n));
      backend.writeEventfd(file, 1n);
    } finally {
      backend.close(file);
      closeSync(r);
      closeSync(w);
    }
  });

  it('a closed eventfd: every call is EBADF (or a refusal), and a second close is EBADF', async () => {
    const efd = backend.eventfd();
    backend.close(efd);
    expectClearError(() => backend.writeEventfd(efd, 1n));
    await expect(backend.readEventfd(efd)).rejects.toMatchObject({ code: expect.any(String) });
    expectErrno('EBADF', 'close', () => backend.close(efd));
  });
});

describe('memory used after munmap', () => {
  it('a stale view as an ioctl argument or pwrite source is refused or harmless, never a crash', () => {
    const m = backend.mmap({ length: 4096, prot: sc.PROT_READ | sc.PROT_WRITE });
    const stale = m.bytes;
    backend.munmap(m);
    const file = backend.open('/dev/null', sc.O_RDWR ?? 2);
    try {
      for (const f of [
        () => backend.pwrite(file, stale, 0n),
        () =>
          backend.ioctl(closedFd(), ioctlNumber('VFIO_DEVICE_GET_INFO', arch), stale, { name: 'VFIO_DEVICE_GET_INFO' }),
      ]) {
        try {
          f();
        } catch (e) {
          expect(['VfioSystemError', 'VfioTsError']).toContain((e as Error).name);
        }
      }
    } finally {
      backend.close(file);
    }
  });

  it('a mapping munmapped twice is refused the second time', () => {
    const m = backend.mmap({ length: 4096 });
    backend.munmap(m);
    expectClearError(() => backend.munmap(m));
  });
});
