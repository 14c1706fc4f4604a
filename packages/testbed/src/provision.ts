// SPDX-License-Identifier: MIT
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { hostAptDownload, metapackageTarget, PrivateApt } from './apt.js';
import { TestbedError } from './errors.js';
import { exec } from './exec.js';
import { type GuestName, type GuestSelector, guests, resolveGuest } from './guests.js';
import { initScript } from './init-script.js';
import { moduleName, parseModuleIndex, resolveModules } from './modules.js';
import { cacheDir, debianArch, type GuestArch } from './paths.js';
import { rebuildFormat, rebuildModules } from './rebuild.js';

/** Everything needed to boot one guest, as recorded in `<cache>/<guest>/image.json`. */
export interface GuestImage {
  readonly guest: GuestName;
  /** The guest's architecture (ABI and QEMU machine family). */
  readonly arch: GuestArch;
  readonly kernelPackage: string;
  /** `uname -r` of the guest kernel. */
  readonly kernelVersion: string;
  /** Host paths of the kernel and the initramfs. */
  readonly kernel: string;
  readonly initrd: string;
  /** Host directory shared read-only as the guest's root file system. */
  readonly rootDir: string;
  /** Guest path of the node binary, and the version it reports. */
  readonly node: string;
  readonly nodeVersion: string;
  /** Guest path of a directory holding `koffi` and its native package for the guest's architecture. */
  readonly koffiModules: string;
  /** Extra environment for the guest's node (library paths of the prepared root). */
  readonly env: Readonly<Record<string, string>>;
  /** Modules loaded by init, in order. */
  readonly modules: readonly string[];
  /** Modules rebuilt from Debian's source with extra options (see guests.ts), when the guest's recipe asks. */
  readonly rebuilt?: {
    readonly modules: readonly string[];
    readonly config: Readonly<Record<string, string>>;
    readonly packages: readonly string[];
  };
}

/** Which guest: `guest`, or `arch` for that architecture's first guest (see guests.ts). */
export interface ProvisionOptions extends GuestSelector {
  /** Re-download private package indexes even when cached. */
  readonly refresh?: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** Host tools and the Debian packages that provide them (what .ci/testbed-deps.sh installs). */
export const hostTools: Readonly<Record<string, string>> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-system-ppc64': 'qemu-system-ppc',
  busybox: 'busybox-static',
  cpio: 'cpio',
  depmod: 'kmod',
  xz: 'xz-utils',
  zstd: 'zstd',
  'dpkg-deb': 'dpkg',
  'apt-get': 'apt',
  // Guests whose recipe rebuilds modules (x86_64-6.12): the compiler Debian built the kernel with, and make.
  'gcc-12': 'gcc-12',
  make: 'make',
  strip: 'binutils',
};

export const qemuProgram: Readonly<Record<GuestArch, string>> = {
  x86_64: 'qemu-system-x86_64',
  ppc64le: 'qemu-system-ppc64',
};

/** The private apt configuration's directory for an architecture and suites (the ppc64le cache keeps its name). */
export function privateAptDir(cache: string, debArch: string, suites: readonly string[]): string {
  const standard = suites.length === 2 && suites[0] === 'bookworm' && suites[1] === 'bookworm-backports';
  return join(cache, standard ? `apt-${debArch}` : `apt-${debArch}-${suites.join('+')}`);
}

/** Packages unpacked into the ppc64el root: the C and C++ runtime node needs, and a shell for run.sh. */
const ppcRootPackages = ['libc6', 'libgcc-s1', 'libstdc++6', 'busybox-static'];
/** The npm package carrying an official ppc64le Node build (bookworm's own nodejs:ppc64el is Node 18). */
const ppcNodePackage = 'node-linux-ppc64le@20.11.0';

/** Bumped whenever the layout of what provision() produces changes, so old caches are rebuilt. */
const formatVersion = 2;

/**
 * Makes sure one guest can boot: host tools, kernel, modules (rebuilt ones too, when its recipe says so),
 * initramfs, and (ppc64le) a root file system with Node.js and koffi. Idempotent: a second call returns the cached
 * image in milliseconds. Each guest has its own directory, `<cache>/<guest>`.
 */
export function provision(options: ProvisionOptions): GuestImage {
  const guest = resolveGuest(options);
  const spec = guests[guest];
  const { arch } = spec;
  const recipe = spec.kernel;
  const log = options.log ?? (() => {});
  const cache = cacheDir();
  const guestDir = join(cache, guest);
  const stampFile = join(guestDir, 'image.json');
  const stampKey = createHash('sha256')
    .update(
      `${formatVersion}\n${initScript()}\n${arch}\n${recipe.rebuild ? rebuildFormat : ''}\n${JSON.stringify(recipe, (_k, v) => (v instanceof RegExp ? v.source : v))}`,
    )
    .digest('hex')
    .slice(0, 16);

  const tools = [qemuProgram[arch], 'busybox', 'cpio', 'xz', 'zstd', 'dpkg-deb', 'apt-get', 'depmod'];
  ensureHostTools(recipe.rebuild !== undefined ? [...tools, 'make', 'gcc-12', 'strip'] : tools, log);

  const cached = readStamp(stampFile, stampKey);
  if (cached !== undefined) return cached;
  mkdirSync(cache, { recursive: true });
  // Several test processes may provision the same cache at once (two engineers, two vitest workers).
  return withLock(join(cache, `.lock-${guest}`), () => {
    const again = readStamp(stampFile, stampKey);
    return again ?? build();
  });

  function build(): GuestImage {
    mkdirSync(guestDir, { recursive: true });
    const debArch = debianArch[arch];

    // Download-only, through a private apt configuration when the host's sources lack the suites (the host's apt
    // state, sources and dpkg architectures stay as they are).
    const apt =
      recipe.aptSuites === undefined
        ? undefined
        : new PrivateApt(privateAptDir(cache, debArch, recipe.aptSuites), debArch, recipe.aptSuites);
    if (apt !== undefined) {
      log(`${guest}: apt indexes for ${apt.arch} (${apt.suites.join(', ')})`);
      apt.update(options.refresh === true);
    }
    const debs = join(cache, 'debs', debArch);
    const download = (packages: readonly string[]): string[] =>
      apt ? apt.download(packages, debs) : hostAptDownload(packages, debs);

    // Kernel.
    const showArgs = ['show', recipe.suite ? `${recipe.meta}/${recipe.suite}` : recipe.meta];
    const show = apt ? apt.cache(showArgs) : exec('apt-cache', showArgs).stdout;
    const kernelPackage = metapackageTarget(firstStanza(show));
    log(`${guest}: kernel package ${kernelPackage}`);
    const [kernelDeb] = download([kernelPackage]);
    if (kernelDeb === undefined) throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `no .deb for ${kernelPackage}`);
    const kernelTree = join(guestDir, 'kernel');
    // Modules are pruned once the initramfs is built, so their absence also means: unpack again.
    const unpacked = join(kernelTree, '.unpacked');
    const marker = `${kernelDeb}\n${JSON.stringify(recipe.rebuild ?? null)}`;
    let rebuilt: GuestImage['rebuilt'];
    if (
      !existsSync(unpacked) ||
      readFileSync(unpacked, 'utf8') !== marker ||
      !existsSync(join(kernelTree, 'lib', 'modules'))
    ) {
      log(`${guest}: unpacking ${kernelDeb}`);
      rmSync(kernelTree, { recursive: true, force: true });
      mkdirSync(kernelTree, { recursive: true });
      exec('dpkg-deb', ['-x', kernelDeb, kernelTree]);
      const version = readdirSync(join(kernelTree, 'lib', 'modules'))[0] ?? '';
      if (recipe.rebuild !== undefined) {
        const packageVersion = exec('dpkg-deb', ['-f', kernelDeb, 'Version']).stdout.trim();
        const built = rebuildModules({
          dir: join(guestDir, 'rebuild'),
          kernelVersion: version,
          packageVersion,
          rebuild: recipe.rebuild,
          download,
          log: (l) => log(`${guest}: ${l}`),
        });
        installRebuiltModules(join(kernelTree, 'lib', 'modules', version), built.files);
        rebuilt = {
          modules: Object.keys(built.files).sort(),
          config: Object.fromEntries(Object.entries(recipe.rebuild.config).map(([k, v]) => [`CONFIG_${k}`, v])),
          packages: built.packages,
        };
        writeFileSync(join(kernelTree, '.rebuilt.json'), JSON.stringify(rebuilt));
      }
      // Debian's packages leave modules.dep to the postinst's depmod; kmod's depmod reads modules of any arch.
      exec('depmod', ['-b', kernelTree, version]);
      writeFileSync(unpacked, marker);
    } else if (existsSync(join(kernelTree, '.rebuilt.json'))) {
      rebuilt = JSON.parse(readFileSync(join(kernelTree, '.rebuilt.json'), 'utf8')) as GuestImage['rebuilt'];
    }
    const bootFiles = readdirSync(join(kernelTree, 'boot'));
    const kernelName = bootFiles.find((f) => recipe.file.test(f));
    if (kernelName === undefined) {
      throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `${kernelPackage} has no ${recipe.file} in /boot`);
    }
    const kernelVersion = kernelName.replace(recipe.file, '');
    const modulesRoot = join(kernelTree, 'lib', 'modules', kernelVersion);

    // Root file system (ppc64le only; the x86_64 guests use the host's own `/`).
    let rootDir = '/';
    let node = process.execPath;
    let nodeVersion = process.version;
    let koffiModules = hostKoffiModules();
    let env: Record<string, string> = {};
    let busybox = '/bin/busybox';
    if (arch === 'ppc64le' && apt !== undefined) {
      rootDir = join(guestDir, 'rootfs');
      const rootDebs = apt.download(ppcRootPackages, debs);
      if (!existsSync(join(rootDir, '.unpacked'))) {
        log(`${guest}: unpacking ${rootDebs.length} packages into ${rootDir}`);
        rmSync(rootDir, { recursive: true, force: true });
        for (const deb of rootDebs) exec('dpkg-deb', ['-x', deb, rootDir]);
        for (const d of ['proc', 'sys', 'dev', 'tmp', 'opt']) mkdirSync(join(rootDir, d), { recursive: true });
        if (!existsSync(join(rootDir, 'bin', 'sh'))) symlinkSync('busybox', join(rootDir, 'bin', 'sh'));
        installPpcNode(rootDir, log);
        installPpcKoffi(rootDir, log);
        writeFileSync(join(rootDir, '.unpacked'), rootDebs.join('\n'));
      }
      node = '/opt/node/bin/node';
      nodeVersion = readFileSync(join(rootDir, 'opt', 'node', 'VERSION'), 'utf8').trim();
      koffiModules = '/opt/vfio-ts/node_modules';
      env = { LD_LIBRARY_PATH: '/lib/powerpc64le-linux-gnu:/usr/lib/powerpc64le-linux-gnu' };
      busybox = join(rootDir, 'bin', 'busybox');
    }

    // initramfs.
    const index = parseModuleIndex(
      readFileSync(join(modulesRoot, 'modules.dep'), 'utf8'),
      readFileSync(join(modulesRoot, 'modules.builtin'), 'utf8'),
    );
    const modules = resolveModules(index, recipe.modules);
    log(`${guest}: initramfs with ${modules.length} modules`);
    const initrd = join(guestDir, 'initramfs.cpio.gz');
    buildInitramfs({
      staging: join(guestDir, 'initramfs'),
      output: initrd,
      busybox,
      modules: modules.map((m) => ({ name: m, file: join(modulesRoot, index.paths.get(m) as string) })),
    });

    // The unpacked module tree is 100-400 MB and only the initramfs's few modules are needed.
    rmSync(join(kernelTree, 'lib'), { recursive: true, force: true });

    const image: GuestImage = {
      guest,
      arch,
      kernelPackage,
      kernelVersion,
      kernel: join(kernelTree, 'boot', kernelName),
      initrd,
      rootDir,
      node,
      nodeVersion,
      koffiModules,
      env,
      modules,
      ...(rebuilt !== undefined ? { rebuilt } : {}),
    };
    writeFileSync(stampFile, `${JSON.stringify({ key: stampKey, image }, null, 2)}\n`);
    return image;
  }
}

/**
 * Puts rebuilt modules in place of Debian's (same directory, uncompressed `.ko`; depmod runs afterwards) and new
 * ones (iommufd) under `kernel/vfio-ts/`.
 */
function installRebuiltModules(modulesRoot: string, files: Readonly<Record<string, string>>): void {
  // modules.order lists every module the package ships, as `kernel/…/name.ko` (the file may be `.ko.xz`).
  const shipped = new Map<string, string>();
  for (const line of readFileSync(join(modulesRoot, 'modules.order'), 'utf8').split('\n')) {
    if (line.trim() !== '') shipped.set(moduleName(line.trim()), line.trim());
  }
  for (const [name, file] of Object.entries(files)) {
    const stock = shipped.get(name);
    let target: string;
    if (stock !== undefined) {
      const at = join(modulesRoot, stock);
      for (const suffix of ['', '.xz', '.zst', '.gz']) rmSync(`${at}${suffix}`, { force: true });
      target = at.replace(/\.ko(\.(xz|zst|gz))?$/, '.ko');
    } else {
      mkdirSync(join(modulesRoot, 'kernel', 'vfio-ts'), { recursive: true });
      target = join(modulesRoot, 'kernel', 'vfio-ts', `${name}.ko`);
    }
    copyFileSync(file, target);
  }
}

function readStamp(stampFile: string, key: string): GuestImage | undefined {
  if (!existsSync(stampFile)) return undefined;
  const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as { key: string; image: GuestImage };
  return stamp.key === key && existsSync(stamp.image.kernel) && existsSync(stamp.image.initrd)
    ? stamp.image
    : undefined;
}

/** A directory as a lock (atomic mkdir); one left behind by a killed process is taken over after 20 minutes. */
function withLock<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue;
      }
      if (age > 20 * 60_000) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new TestbedError(
          'VFIO_TS_TESTBED_PROVISION',
          `another process holds ${lock} for too long; remove it if stale`,
        );
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function firstStanza(show: string): string {
  return show.split(/\n\n/)[0] ?? show;
}

function ensureHostTools(tools: readonly string[], log: (line: string) => void): void {
  const missing = tools.filter((t) => exec('sh', ['-c', `command -v ${t}`], { allowFailure: true }).status !== 0);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((t) => hostTools[t] ?? t))];
  if (process.getuid?.() !== 0) {
    throw new TestbedError(
      'VFIO_TS_TESTBED_PROVISION',
      `missing host tools ${missing.join(', ')}: install ${packages.join(' ')} (as root: .ci/testbed-deps.sh)`,
    );
  }
  log(`apt-get install ${packages.join(' ')}`);
  exec('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The node_modules directory that holds the host's koffi (the x86_64 guest sees the host's files at the same paths). */
function hostKoffiModules(): string {
  try {
    // koffi's `exports` hides package.json, so walk up from its entry point.
    const entry = createRequire(import.meta.url).resolve('koffi');
    const at = entry.lastIndexOf('/node_modules/koffi/');
    return at < 0 ? '' : entry.slice(0, at + '/node_modules'.length);
  } catch {
    return '';
  }
}

function installPpcNode(rootDir: string, log: (line: string) => void): void {
  const work = join(rootDir, 'opt', '.npm-pack');
  mkdirSync(work, { recursive: true });
  log(`ppc64le: npm pack ${ppcNodePackage}`);
  const tarball = exec('npm', ['pack', ppcNodePackage, '--silent'], { cwd: work }).stdout.trim().split('\n').pop();
  if (tarball === undefined || tarball === '') {
    throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `npm pack ${ppcNodePackage} gave no tarball`);
  }
  const nodeDir = join(rootDir, 'opt', 'node');
  mkdirSync(nodeDir, { recursive: true });
  exec('tar', [
    'xzf',
    join(work, tarball),
    '-C',
    nodeDir,
    '--strip-components=1',
    'package/bin/node',
    'package/package.json',
  ]);
  chmodSync(join(nodeDir, 'bin', 'node'), 0o755);
  const version = (JSON.parse(readFileSync(join(nodeDir, 'package.json'), 'utf8')) as { version: string }).version;
  writeFileSync(join(nodeDir, 'VERSION'), `${version.startsWith('v') ? version : `v${version}`}\n`);
  rmSync(work, { recursive: true, force: true });
}

function installPpcKoffi(rootDir: string, log: (line: string) => void): void {
  // The same koffi version the host resolves, so a test behaves the same in every guest.
  const hostModules = hostKoffiModules();
  const version =
    hostModules !== ''
      ? (JSON.parse(readFileSync(join(hostModules, 'koffi', 'package.json'), 'utf8')) as { version: string }).version
      : 'latest';
  const prefix = join(rootDir, 'opt', 'vfio-ts');
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, 'package.json'), '{"name":"vfio-ts-guest","private":true}\n');
  log(`ppc64le: npm install --cpu=ppc64 koffi@${version}`);
  exec('npm', ['install', '--cpu=ppc64', '--os=linux', '--libc=glibc', '--no-audit', '--no-fund', `koffi@${version}`], {
    cwd: prefix,
  });
  const native = join(prefix, 'node_modules', '@koromix', 'koffi-linux-ppc64');
  if (!existsSync(native)) {
    throw new TestbedError(
      'VFIO_TS_TESTBED_PROVISION',
      `npm did not install @koromix/koffi-linux-ppc64 into ${prefix}`,
    );
  }
}

interface InitramfsSpec {
  readonly staging: string;
  readonly output: string;
  readonly busybox: string;
  readonly modules: readonly { name: string; file: string }[];
}

function buildInitramfs(spec: InitramfsSpec): void {
  const { staging } = spec;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'bin'), { recursive: true });
  mkdirSync(join(staging, 'lib', 'modules'), { recursive: true });
  copyFileSync(spec.busybox, join(staging, 'bin', 'busybox'));
  chmodSync(join(staging, 'bin', 'busybox'), 0o755);
  writeFileSync(join(staging, 'init'), initScript(), { mode: 0o755 });
  for (const m of spec.modules) {
    const out = join(staging, 'lib', 'modules', `${m.name}.ko`);
    // busybox insmod cannot read compressed modules (Debian 6.12 ships .ko.xz).
    if (m.file.endsWith('.xz')) exec('sh', ['-c', `xz -dc '${m.file}' > '${out}'`]);
    else if (m.file.endsWith('.zst')) exec('sh', ['-c', `zstd -dc '${m.file}' > '${out}'`]);
    else copyFileSync(m.file, out);
  }
  writeFileSync(join(staging, 'modules.order'), `${spec.modules.map((m) => m.name).join('\n')}\n`);
  // Written aside and renamed, so a guest booting from the old image meanwhile never reads half a file.
  exec('sh', ['-c', `cd '${staging}' && find . | cpio -o -H newc -R 0:0 --quiet | gzip -6 > '${spec.output}.tmp'`]);
  renameSync(`${spec.output}.tmp`, spec.output);
}
