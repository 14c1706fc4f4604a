// SPDX-License-Identifier: MIT
import { errnoNumber } from '@vfio-ts/uapi';
import type { Process } from '../mm/process.js';
import type { SimFile } from './file.js';

const EBADF = errnoNumber('EBADF');
const EMFILE = errnoNumber('EMFILE');

/** ≙ struct files_struct: lowest free fd first, RLIMIT_NOFILE as the limit. */
export class FdTable {
  private readonly files = new Map<number, SimFile>();
  constructor(readonly limit = 1024) {}

  get size(): number {
    return this.files.size;
  }

  /** ≙ get_unused_fd_flags + fd_install: returns the fd or -EMFILE (the file's reference moves into the table). */
  install(file: SimFile): number {
    for (let fd = 3; fd < this.limit; fd++) {
      if (!this.files.has(fd)) {
        this.files.set(fd, file);
        return fd;
      }
    }
    return -EMFILE;
  }

  /** ≙ fdget: the file, or -EBADF. */
  get(fd: number): SimFile | number {
    if (!Number.isInteger(fd)) return -EBADF;
    return this.files.get(fd) ?? -EBADF;
  }

  /** ≙ close_fd */
  close(fd: number, current: Process): number {
    const file = this.files.get(fd);
    if (file === undefined) return -EBADF;
    this.files.delete(fd);
    file.put(current);
    return 0;
  }

  /** ≙ put_unused_fd: drops an fd whose file never became visible, without running its release. */
  forget(fd: number): void {
    this.files.delete(fd);
  }

  entries(): IterableIterator<[number, SimFile]> {
    return this.files.entries();
  }
}
