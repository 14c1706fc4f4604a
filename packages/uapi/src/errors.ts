// SPDX-License-Identifier: MIT
export type UapiErrorCode =
  | 'VFIO_TS_VALUE_RANGE'
  | 'VFIO_TS_SHORT_BUFFER'
  | 'VFIO_TS_CAP_CHAIN'
  | 'VFIO_TS_UNKNOWN_STRUCT'
  | 'VFIO_TS_UNKNOWN_IOCTL'
  | 'VFIO_TS_UNKNOWN_ARCH'
  | 'VFIO_TS_UNKNOWN_ERRNO';

/**
 * A bad value or buffer caught before any byte is written or trusted. Never a wrong buffer instead: a value that
 * does not fit its field, a buffer shorter than the struct, or a capability chain that loops or leaves the buffer.
 */
export class UapiError extends Error {
  override readonly name = 'UapiError';
  readonly code: UapiErrorCode;
  constructor(code: UapiErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
