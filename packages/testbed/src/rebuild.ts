// SPDX-License-Identifier: MIT
/**
 * Rebuilds a few of a Debian kernel's modules from Debian's own source of the same package version, with config
 * options Debian leaves off, as out-of-tree modules against the matching linux-headers package (what DKMS does).
 * Used for the x86_64-6.12 guest: Debian's amd64 kernels have no CONFIG_IOMMUFD, hence no VFIO device cdev.
 * The kernel image and every other module stay Debian's; the rebuilt modules are unsigned (Debian does not force
 * module signatures, the guest logs a taint).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { TestbedError } from './errors.js';
import { exec } from './exec.js';
import type { ModuleRebuild } from './guests.js';
import { shellQuote } from './init-script.js';
import { moduleName } from './modules.js';

/**
 * Source trees rebuilt, relative to the kernel source, and directories whose private headers they include
 * (iommufd includes ../iommu-priv.h).
 */
export const rebuiltTrees = ['drivers/iommu/iommufd', 'drivers/vfio'] as const;
const privateHeaderDirs = ['drivers/iommu'] as const;

/** Bumped when the build recipe changes, so a cached build (and the images built from it) are redone. */
export const rebuildFormat = 2;
const buildVersion = rebuildFormat;

export interface RebuildOptions {
  /** Where the build happens and the modules stay (`<cache>/<guest>/rebuild`). */
  readonly dir: string;
  /** `uname -r` of the kernel (`6.12.95+deb12-amd64`). */
  readonly kernelVersion: string;
  /** The Debian version of the kernel image package (`6.12.95-1~bpo12+1`); headers and source must match it. */
  readonly packageVersion: string;
  readonly rebuild: ModuleRebuild;
  /** Downloads `name=version` packages and returns the .deb paths. */
  readonly download: (packages: readonly string[]) => string[];
  readonly log: (line: string) => void;
}

export interface RebuiltModules {
  /** Module name (`vfio_pci`) → host path of the rebuilt, uncompressed .ko. */
  readonly files: Readonly<Record<string, string>>;
  /** The Debian packages the build used. */
  readonly packages: readonly string[];
}

/** The Debian package names a rebuild needs for a kernel (`uname -r`), its flavour and its package version. */
export function rebuildPackages(kernelVersion: string, flavour: string, packageVersion: string): string[] {
  const suffix = `-${flavour}`;
  if (!kernelVersion.endsWith(suffix)) {
    throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `kernel ${kernelVersion} is not of the ${flavour} flavour`);
  }
  const abi = kernelVersion.slice(0, -suffix.length);
  const series = /^(\d+\.\d+)/.exec(abi)?.[1];
  if (series === undefined) throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `no x.y version in ${kernelVersion}`);
  return [
    `linux-headers-${kernelVersion}`,
    `linux-headers-${abi}-common`,
    `linux-kbuild-${abi}`,
    `linux-source-${series}`,
  ].map((p) => `${p}=${packageVersion}`);
}

/** `-D` flags that make the C preprocessor see the options (`IS_ENABLED()` reads `CONFIG_X` or `CONFIG_X_MODULE`). */
export function configDefines(config: Readonly<Record<string, 'y' | 'm'>>): string[] {
  return Object.entries(config).map(([k, v]) => (v === 'm' ? `-DCONFIG_${k}_MODULE=1` : `-DCONFIG_${k}=1`));
}

/**
 * Builds (or returns the cached build of) the modules of `rebuiltTrees` with `rebuild.config` switched on.
 * About 15 s of compiling on 2 cores, plus unpacking the 150 MB source package once.
 */
export function rebuildModules(options: RebuildOptions): RebuiltModules {
  const { dir, kernelVersion, packageVersion, rebuild, log } = options;
  const packages = rebuildPackages(kernelVersion, rebuild.flavour, packageVersion);
  const out = join(dir, 'modules');
  const stamp = join(out, 'build.json');
  const key = JSON.stringify({
    buildVersion,
    packages,
    config: rebuild.config,
    trees: rebuiltTrees,
    privateHeaderDirs,
  });
  if (existsSync(stamp)) {
    const cached = JSON.parse(readFileSync(stamp, 'utf8')) as { key: string; files: Record<string, string> };
    if (cached.key === key && Object.values(cached.files).every((f) => existsSync(f))) {
      return { files: cached.files, packages };
    }
  }

  const [headersDeb, commonDeb, kbuildDeb, sourceDeb] = options.download(packages);
  if (headersDeb === undefined || commonDeb === undefined || kbuildDeb === undefined || sourceDeb === undefined) {
    throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `could not download ${packages.join(' ')}`);
  }
  const work = join(dir, 'work');
  rmSync(work, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  const root = join(work, 'root');
  mkdirSync(root, { recursive: true });
  log(`rebuild: unpacking headers for ${kernelVersion}`);
  for (const deb of [headersDeb, commonDeb, kbuildDeb]) exec('dpkg-deb', ['-x', deb, root]);
  const headers = join(root, 'usr', 'src', `linux-headers-${kernelVersion}`);
  // The flavour's Makefile includes the common tree by its installed path (/usr/src/…): point it at ours.
  const makefile = join(headers, 'Makefile');
  writeFileSync(
    makefile,
    readFileSync(makefile, 'utf8').replace(/^include \/usr\/src\//m, `include ${join(root, 'usr', 'src')}/`),
  );
  const stockConfig = readFileSync(join(headers, '.config'), 'utf8');

  // Only the trees that are rebuilt (and lib/interval_tree.c), streamed out of the source package's tarball.
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  const series = /linux-source-(\d+\.\d+)=/.exec(packages[3] ?? '')?.[1] ?? '';
  const top = `linux-source-${series}`;
  // A directory named without wildcards comes out whole; `*.h` must not match across slashes.
  const members = [
    ...rebuiltTrees.map((t) => `${top}/${t}`),
    `${top}/lib/interval_tree.c`,
    '--wildcards',
    '--no-wildcards-match-slash',
    ...privateHeaderDirs.map((d) => `${top}/${d}/*.h`),
  ];
  log(`rebuild: extracting ${rebuiltTrees.join(', ')} from ${basename(sourceDeb)}`);
  exec('sh', [
    '-c',
    `dpkg-deb --fsys-tarfile ${shellQuote(sourceDeb)} | tar -xO ./usr/src/${top}.tar.xz | tar -xJ -C ${shellQuote(src)} ${members.map(shellQuote).join(' ')}`,
  ]);
  const source = join(src, top);

  // The external module tree: each rebuilt tree at its own path, beside the private headers it includes. The
  // kernel's own Makefiles pick the objects, with the options given on make's command line; the C side gets them
  // as -D flags, because include/generated/autoconf.h is Debian's.
  const build = join(work, 'build');
  for (const d of privateHeaderDirs) {
    mkdirSync(join(build, d), { recursive: true });
    for (const f of readdirSync(join(source, d))) {
      if (f.endsWith('.h')) copyFileSync(join(source, d, f), join(build, d, f));
    }
  }
  for (const tree of rebuiltTrees) {
    mkdirSync(dirname(join(build, tree)), { recursive: true });
    exec('cp', ['-r', join(source, tree), join(build, tree)]);
  }
  const kbuildTop = [
    `subdir-ccflags-y += ${configDefines(rebuild.config).join(' ')}`,
    `obj-m += ${rebuiltTrees.map((t) => `${t}/`).join(' ')}`,
  ];
  writeFileSync(join(build, 'Kbuild'), `${kbuildTop.join('\n')}\n`);
  // IOMMUFD selects INTERVAL_TREE_SPAN_ITER, which a kernel without IOMMUFD does not build in: compile the span
  // iterator (lib/interval_tree.c, under that option) into iommufd.ko instead.
  if (rebuild.config.IOMMUFD !== undefined && !/^CONFIG_INTERVAL_TREE_SPAN_ITER=y$/m.test(stockConfig)) {
    const lib = readFileSync(join(source, 'lib', 'interval_tree.c'), 'utf8');
    const block = /^#ifdef CONFIG_INTERVAL_TREE_SPAN_ITER\n([\s\S]*)^#endif/m.exec(lib)?.[1];
    if (block === undefined) {
      throw new TestbedError(
        'VFIO_TS_TESTBED_PROVISION',
        'lib/interval_tree.c has no CONFIG_INTERVAL_TREE_SPAN_ITER block',
      );
    }
    const iommufdDir = join(build, 'drivers', 'iommu', 'iommufd');
    writeFileSync(
      join(iommufdDir, 'interval_tree_span.c'),
      `// SPDX-License-Identifier: GPL-2.0-only\n// From lib/interval_tree.c (CONFIG_INTERVAL_TREE_SPAN_ITER), for a kernel built without it.\n#include <linux/interval_tree.h>\n${block.replace(/^EXPORT_SYMBOL_GPL\(.*\);\n/gm, '')}`,
    );
    writeFileSync(join(iommufdDir, 'Kbuild'), 'include $(src)/Makefile\niommufd-y += interval_tree_span.o\n');
  }

  const overrides = Object.entries(rebuild.config).map(([k, v]) => `CONFIG_${k}=${v}`);
  // No BTF for the rebuilt modules (it would need pahole); nothing in the guest reads it.
  const jobs = String(Math.max(1, availableParallelism()));
  log(`rebuild: make modules with ${overrides.join(' ')}`);
  const made = exec(
    'make',
    ['-C', headers, `M=${build}`, ...overrides, 'CONFIG_DEBUG_INFO_BTF_MODULES=', `-j${jobs}`, 'modules'],
    { allowFailure: true },
  );
  writeFileSync(join(dir, 'build.log'), `${made.stdout}\n${made.stderr}`);
  if (made.status !== 0) {
    throw new TestbedError(
      'VFIO_TS_TESTBED_PROVISION',
      `building ${rebuiltTrees.join(', ')} for ${kernelVersion} failed (log: ${join(dir, 'build.log')}):\n${made.stderr.split('\n').slice(-20).join('\n')}`,
    );
  }
  const undefinedSymbols = /WARNING: modpost: "[^"]+" \[[^\]]+\] undefined!/.exec(made.stderr);
  if (undefinedSymbols !== null) {
    throw new TestbedError(
      'VFIO_TS_TESTBED_PROVISION',
      `the rebuilt modules need symbols the kernel does not export: ${undefinedSymbols[0]}`,
    );
  }

  mkdirSync(out, { recursive: true });
  const files: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.ko')) {
        const target = join(out, e.name);
        // Debug info makes them ten times larger; Debian's own modules are stripped the same way.
        exec('strip', ['--strip-debug', '-o', target, join(d, e.name)]);
        files[moduleName(e.name)] = target;
      }
    }
  };
  walk(build);
  if (Object.keys(files).length === 0) throw new TestbedError('VFIO_TS_TESTBED_PROVISION', 'the rebuild made no .ko');
  writeFileSync(stamp, `${JSON.stringify({ key, files }, null, 1)}\n`);
  // Headers and sources are 100+ MB unpacked; the .debs stay in the download cache.
  rmSync(work, { recursive: true, force: true });
  log(`rebuild: ${Object.keys(files).sort().join(', ')}`);
  return { files, packages };
}
