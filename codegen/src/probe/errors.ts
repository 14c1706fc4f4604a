// SPDX-License-Identifier: MIT

export type ProbeErrorCode =
  | 'VFIO_TS_PROBE_TOOLCHAIN_MISSING'
  | 'VFIO_TS_PROBE_COMPILE_FAILED'
  | 'VFIO_TS_PROBE_ELF'
  | 'VFIO_TS_PROBE_MISMATCH'
  | 'VFIO_TS_VENDOR';

/** Errors carry a stable `code` (vitest style) so callers and tests branch on it, not on the message. */
export class ProbeError extends Error {
  override readonly name = 'ProbeError';
  readonly code: ProbeErrorCode;
  constructor(code: ProbeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
