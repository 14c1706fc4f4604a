// SPDX-License-Identifier: MIT
/**
 * Codes:
 * - `VFIO_TS_TESTBED_EXEC`: a host tool (apt-get, dpkg, qemu, cpio) failed or is missing.
 * - `VFIO_TS_TESTBED_PROVISION`: a kernel, module or package could not be found or unpacked.
 * - `VFIO_TS_TESTBED_BOOT`: the guest did not reach the test (kernel panic, init failure, no VFIO groups).
 * - `VFIO_TS_TESTBED_TIMEOUT`: the guest did not power off in time (a hung test or a hung kernel).
 * - `VFIO_TS_TESTBED_RESULTS`: the test ran but wrote no readable result file.
 * - `VFIO_TS_TESTBED_ENV`: a bad option (unknown guest, a mode or variable name the guest cannot take).
 */
// Not a subclass of core's VfioTsError: the testbed runs on hosts before (and without) the generated uapi that core
// loads, and its failures are about QEMU and packages, not VFIO calls. The `code` convention is the same.
export class TestbedError extends Error {
  override readonly name = 'TestbedError';
  readonly code: string;
  /** The last lines of the guest's console, when a guest was involved. */
  readonly consoleTail: string | undefined;
  constructor(code: string, message: string, options?: { cause?: unknown; consoleTail?: string }) {
    const tailText = options?.consoleTail ? `\n--- guest console (last lines) ---\n${options.consoleTail}` : '';
    super(`${message}${tailText}`, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.consoleTail = options?.consoleTail;
  }
}
