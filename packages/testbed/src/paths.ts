// SPDX-License-Identifier: MIT
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The guest architectures the testbed can boot. */
export type GuestArch = 'x86_64' | 'ppc64le';
export const guestArches: readonly GuestArch[] = ['x86_64', 'ppc64le'];

/** Debian's name for each guest architecture. */
export const debianArch: Record<GuestArch, string> = { x86_64: 'amd64', ppc64le: 'ppc64el' };

export const packageDir: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The monorepo root when the package runs from a checkout of vfio-ts, otherwise undefined. */
export function repoRoot(): string | undefined {
  const candidate = resolve(packageDir, '..', '..');
  return existsSync(join(candidate, 'packages', 'testbed', 'package.json')) ? candidate : undefined;
}

/**
 * Where downloads, unpacked kernels, initramfs images and run directories live. `VFIO_TS_TESTBED_CACHE` wins;
 * inside the vfio-ts checkout the default is `<repo>/.cache/testbed` (git-ignored), elsewhere
 * `$XDG_CACHE_HOME/vfio-ts/testbed`.
 */
export function cacheDir(): string {
  const fromEnv = process.env.VFIO_TS_TESTBED_CACHE;
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  const root = repoRoot();
  if (root !== undefined) return join(root, '.cache', 'testbed');
  const xdg = process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/tmp', '.cache');
  return join(xdg, 'vfio-ts', 'testbed');
}
