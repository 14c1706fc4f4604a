// SPDX-License-Identifier: MIT
/**
 * The scenario format (documented in FORMAT.md): a scenario is plain data, a list of steps, each a system call with
 * its arguments and what the kernel must answer, or a check of the state afterwards.
 */
import type { Backend } from '@vfio-ts/core';
import type { IoctlName } from '@vfio-ts/uapi';

/** The IOMMU modes a container can be put in: `VFIO_SET_IOMMU` with TYPE1v2 / TYPE1 / SPAPR_TCE_v2 / SPAPR_TCE. */
export type Mode = 'type1v2' | 'type1v1' | 'spapr-v2' | 'spapr-v1';
export const allModes: readonly Mode[] = ['type1v2', 'type1v1', 'spapr-v2', 'spapr-v1'];
export const type1Modes: readonly Mode[] = ['type1v2', 'type1v1'];
export const spaprModes: readonly Mode[] = ['spapr-v2', 'spapr-v1'];

/** What a value may depend on when a scenario runs: the ABI, the mode, and values saved by earlier steps. */
export interface Env {
  readonly arch: string;
  readonly pageSize: number;
  readonly mode: Mode;
  /** The `VFIO_SET_IOMMU` argument of the mode. */
  readonly iommuType: number;
  /** Values saved by earlier steps (`save`), by name. */
  readonly vars: Readonly<Record<string, bigint | number>>;
  /** Facts of the system under test (`ConformanceSystem.facts`), e.g. the platform's sPAPR window. */
  readonly facts: Readonly<Record<string, bigint | number>>;
}

/** A literal, or a function of the run's environment (for page sizes, saved start addresses, platform facts). */
export type V<T> = T | ((env: Env) => T);

/** A user-space address inside a mapping created by an `mmap` step: normalised to `B+offset` in traces. */
export interface BufRef {
  readonly buf: string;
  readonly offset?: V<number | bigint>;
}
/** The number of an fd opened by an earlier step: normalised to its handle name in traces. */
export interface FdRef {
  readonly fd: string;
}

export type FieldValue = number | bigint | BufRef | FdRef | { readonly [key: string]: number | bigint };

export type IoctlArg =
  /** No argument. */
  | undefined
  /** An integer passed by value (CHECK_EXTENSION, SET_IOMMU). */
  | { readonly int: V<number> }
  /** A pointer to an `int` (GROUP_SET_CONTAINER): an fd handle, or a raw number such as -1. */
  | { readonly intPtr: FdRef | V<number> }
  /** A NUL-terminated string (GROUP_GET_DEVICE_FD): a device of the system by index, or a literal. */
  | { readonly string: V<string> | { readonly device: number; readonly group?: number; readonly suffix?: string } }
  /**
   * A struct (the ioctl's own unless `struct` says otherwise) by pointer, fields in uapi's camelCase.
   * `argsz` defaults to the struct's size; missing fields are 0. `size` makes the buffer larger (room for caps).
   */
  | {
      readonly struct?: string;
      readonly value: Readonly<Record<string, V<FieldValue>>>;
      readonly size?: V<number>;
      /** `__s32`s after the fixed part (VFIO_DEVICE_SET_IRQS eventfds): fd handles or numbers. */
      readonly tailInts?: readonly (FdRef | number)[];
    };

/** What a call must answer: success (optionally a return value and written-back fields), or an errno. */
export interface Expect {
  /** Kernel undefined behaviour: any answer is accepted (the trace still records it). */
  readonly anyOutcome?: boolean;
  /** An errno name, or a function of the env answering one or `undefined` (= success expected). */
  readonly errno?: V<string | undefined>;
  /** The return value: a number, `'fd'` (any fd ≥ 0, normalised in traces), or `'any'` (≥ 0). Default 0. */
  readonly ret?: V<number> | 'fd' | 'any';
  /** Fields of the written-back struct (after the call) that must have these values. */
  readonly out?: Readonly<Record<string, V<number | bigint | Readonly<Record<string, number | bigint>>>>>;
}

/** A pread/pwrite expectation: `ret` is the byte count (default: the whole length), `data` the bytes read as hex. */
export type RwExpect = Expect & { readonly data?: V<string> };

export type Step =
  | {
      readonly op: 'open';
      readonly as: string;
      /** `'container'` = /dev/vfio/vfio; `{group: i}` = the i-th test group of the system. */
      readonly path: 'container' | { readonly group: number };
      readonly expect: Expect;
    }
  | { readonly op: 'close'; readonly fd: string; readonly expect?: Expect }
  | {
      readonly op: 'ioctl';
      readonly fd: string | V<number>;
      readonly ioctl: IoctlName;
      /** A request number other than `ioctl`'s on this ABI (unknown-ioctl scenarios); still named in traces. */
      readonly requestDelta?: number;
      readonly arg?: IoctlArg;
      readonly expect: Expect;
      /** Saves written-back fields (`{start: 'startAddr'}`) or the return value (`{fd: '$ret'}`) into `env.vars`. */
      readonly save?: Readonly<Record<string, string>>;
      /** For `'fd'` returns: the handle name the new fd gets. */
      readonly as?: string;
    }
  | {
      readonly op: 'mmap';
      readonly as: string;
      readonly bytes: V<number>;
      /** Default 'rw'. */
      readonly prot?: 'r' | 'rw';
    }
  | { readonly op: 'munmap'; readonly buf: string }
  | { readonly op: 'eventfd'; readonly as: string }
  /**
   * pread(2)/pwrite(2) on a device fd at `offset` of region `region` (its offset from GET_REGION_INFO). `bytes`
   * (pwrite) is written; `expect.ret` is the byte count; `expect.data` (pread) the bytes read, as hex.
   */
  | {
      readonly op: 'pread' | 'pwrite';
      readonly device: string;
      readonly region: number;
      readonly offset: V<number | bigint>;
      readonly length: number;
      readonly bytes?: V<string>;
      readonly expect: RwExpect;
    }
  /** The process's locked memory (`locked_vm`, VmLck) against the scenario's start, in bytes. */
  | { readonly op: 'locked'; readonly delta: V<number | bigint> }
  /** RLIMIT_MEMLOCK for the process (skips the scenario where the system cannot set it). */
  | { readonly op: 'rlimit'; readonly bytes: V<number | bigint> }
  /**
   * A DMA by the edu device `device` (a device-fd handle): RAM at `iova` → edu → RAM at `back` (default `iova` + 2 KiB),
   * `expect: 'ok'` = the pattern written at `buf` arrives at `backBuf`; `'blocked'` = the bytes at `backBuf` stay.
   */
  | {
      readonly op: 'dma';
      readonly device: string;
      readonly iova: V<bigint>;
      readonly buf: BufRef;
      readonly backIova: V<bigint>;
      readonly backBuf: BufRef;
      readonly expect: 'ok' | 'blocked';
    };

export interface Scenario {
  /** Unique within the suite: `<fd-kind>/<ioctl-kebab>: what`. */
  readonly name: string;
  readonly modes: readonly Mode[];
  /** Where the expectation comes from: `type1 §8 #27`, `spapr §13 #12`, `QEMU hw/vfio/spapr.c`, a DPDK commit. */
  readonly source: string;
  readonly steps: readonly Step[];
  /** What the system must offer (skipped with a reason otherwise). */
  readonly needs?: {
    readonly groups?: number;
    readonly edu?: boolean;
    readonly eeh?: boolean;
    /** Platform facts the steps read (`facts.x`). */
    readonly facts?: readonly string[];
    /** Only on these ABIs' page sizes etc.: a predicate on the system. */
    readonly pageSize?: number;
    /** Only on this sPAPR platform (`facts.powernv` 1 or 0): for answers the two platforms give differently. */
    readonly platform?: 'powernv' | 'pseries';
  };
  /** Never sent to a real kernel: why (it oopses the guest, poisons the PHB, logs a WARNING). */
  readonly realKernelHazard?: string;
  readonly doc?: string;
}

/** A backend plus what the suite needs to know of the machine behind it. */
export interface ConformanceSystem {
  readonly backend: Backend;
  /** `'sim'` or `'kernel'`: decides whether hazardous scenarios run. */
  readonly target: 'sim' | 'kernel';
  /** IOMMU groups for the tests, in order: the first holds edu if any does. */
  readonly groups: readonly { readonly path: string; readonly devices: readonly string[]; readonly edu?: string }[];
  /** The process's locked memory in bytes (`locked_vm`), if it can be observed. */
  readonly lockedVm?: () => bigint;
  /** Sets RLIMIT_MEMLOCK with CAP_IPC_LOCK dropped, if the system can. */
  readonly setRlimitMemlock?: (bytes: bigint) => void;
  /** Whether EEH PEs exist (`VFIO_CHECK_EXTENSION(VFIO_EEH)`). */
  readonly eeh?: boolean;
  /** Platform facts scenarios may read through `env.facts`. */
  readonly facts?: Readonly<Record<string, bigint | number>>;
  /** Called after the scenario (a fresh simulated kernel needs nothing; a real process keeps its state). */
  readonly dispose?: () => void | Promise<void>;
}

export type MakeSystem = (mode: Mode) => ConformanceSystem | Promise<ConformanceSystem>;
