// SPDX-License-Identifier: MIT
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { bundleEntry } from './bundle.js';
import { type DeviceModel, defaultDevices, deviceModels } from './devices.js';
import { TestbedError } from './errors.js';
import { tail } from './exec.js';
import { type GuestInfo, parseGuestInfo } from './guest-info.js';
import { type GuestName, type GuestSelector, guests, resolveGuest } from './guests.js';
import { guestRunDir, markers, shellQuote } from './init-script.js';
import { cacheDir, type GuestArch } from './paths.js';
import { type GuestImage, provision } from './provision.js';
import { qemuCommand } from './qemu.js';

/** Which guest: `guest` (`'x86_64-6.12'`), or `arch` for that architecture's first guest (see guests.ts). */
export interface RunInGuestOptions extends GuestSelector {
  /**
   * The program to run with node in the guest: a .js/.ts file (bundled with everything it imports), or source
   * text with the directory its imports resolve from.
   */
  readonly entry: string | { readonly contents: string; readonly resolveDir: string };
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** PCI devices to add and bind to vfio-pci (default: edu and e1000). */
  readonly devices?: readonly DeviceModel[];
  /** Wall-clock bound for boot + entry + power-off (default: the guest's, 3–4 min on x86_64, 10 min on ppc64le). */
  readonly timeoutMs?: number;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  /** Extra kernel command-line words. */
  readonly append?: readonly string[];
  /** Packages kept out of the bundle (native code the guest must resolve itself). */
  readonly external?: readonly string[];
  /** Packages that may be missing on the host; importing them throws in the guest instead of failing the bundle. */
  readonly optional?: readonly string[];
  /** The guest's console as it arrives. */
  readonly onConsole?: (text: string) => void;
  /** Progress lines from provisioning. */
  readonly log?: (line: string) => void;
  /**
   * chmod for the /dev/vfio nodes (e.g. `'666'`), for tests that switch to an unprivileged uid: as root,
   * CAP_IPC_LOCK bypasses RLIMIT_MEMLOCK and hides every locked-memory limit. Default: root-only, as udev leaves them.
   */
  readonly devVfioMode?: string;
  /** Keep the run directory (entry bundle, console.log, results) even when the run succeeded. */
  readonly keepRunDir?: boolean;
  /**
   * How often to boot again when the kernel oopses before init reached the tests (default 1). Under TCG with two
   * vCPUs the 6.12 kernel has oopsed once in about 50 boots on an int3 left by its own code patching
   * (`Oops: int3` in enqueue_timer, before any module was loaded): QEMU's cross-modifying code, not VFIO. Every
   * retried crash is returned in `bootCrashes`; a crash once the tests run is never retried.
   */
  readonly bootRetries?: number;
}

export interface GuestRun {
  /** Which guest ran (`guest` below is what its init recorded). */
  readonly guestName: GuestName;
  /** The guest's architecture. */
  readonly arch: GuestArch;
  readonly kernelVersion: string;
  readonly procVersion: string;
  readonly iommu: GuestInfo['iommu'];
  readonly devices: GuestInfo['devices'];
  readonly guest: GuestInfo;
  readonly nodeVersion: string;
  /** The entry's exit status (128+n for a signal). */
  readonly exitCode: number;
  /** The JSON the entry wrote to `$VFIO_TS_RESULTS`, if it wrote any. */
  readonly results: unknown;
  readonly console: string;
  readonly timings: { readonly bootMs: number; readonly entryMs: number; readonly totalMs: number };
  /** The run directory on the host (removed after a successful run unless `keepRunDir`). */
  readonly runDir: string;
  /** Kernel crashes before the tests started that were retried (`bootRetries`), one line each; usually empty. */
  readonly bootCrashes: readonly string[];
}

/**
 * Boots a guest with a real kernel and IOMMU, binds the devices to vfio-pci, runs the entry with node as root in
 * the guest, and returns what it wrote. A guest that fails to boot or a test that hangs becomes a TestbedError
 * carrying the console's last lines; a non-zero exit of the entry is reported in `exitCode`, not thrown.
 */
export async function runInGuest(options: RunInGuestOptions): Promise<GuestRun> {
  const guest = resolveGuest(options);
  const { arch } = guests[guest];
  const image = provision({ guest, ...(options.log ? { log: options.log } : {}) });
  const devices = options.devices ?? defaultDevices;
  const runDir = makeRunDir(guest);

  await bundleEntry({
    entry: options.entry,
    outfile: join(runDir, 'entry.mjs'),
    ...(options.external ? { external: options.external } : {}),
    ...(options.optional ? { optional: options.optional } : {}),
  });
  prepareRunDir(runDir, image, devices, options);

  const { program, args } = qemuCommand({
    arch,
    kernel: image.kernel,
    initrd: image.initrd,
    rootDir: image.rootDir,
    runDir,
    devices,
    ...(options.memoryMiB !== undefined ? { memoryMiB: options.memoryMiB } : {}),
    ...(options.cpus !== undefined ? { cpus: options.cpus } : {}),
    ...(options.append !== undefined ? { append: options.append } : {}),
  });
  writeFileSync(join(runDir, 'qemu-command.txt'), [program, ...args].map(shellQuote).join(' '));

  const bootCrashes: string[] = [];
  let boot = await runQemu(program, args, options.timeoutMs ?? guests[guest].timeoutMs, options.onConsole);
  for (let crash = earlyCrash(boot); crash !== undefined && bootCrashes.length < (options.bootRetries ?? 1); ) {
    bootCrashes.push(crash);
    writeFileSync(join(runDir, `console-crashed-boot-${bootCrashes.length}.log`), boot.console);
    options.log?.(`${guest}: the kernel crashed before the tests (${crash}); booting again`);
    for (const f of ['guest-info.txt', 'init-error', 'exit-code', 'results.json'])
      rmSync(join(runDir, f), { force: true });
    boot = await runQemu(program, args, options.timeoutMs ?? guests[guest].timeoutMs, options.onConsole);
    crash = earlyCrash(boot);
  }
  writeFileSync(join(runDir, 'console.log'), boot.console);
  const consoleTail = tail(boot.console, 40);

  if (boot.timedOut) {
    const where = boot.readyAt === undefined ? 'while booting' : 'while the entry was running';
    throw new TestbedError(
      'VFIO_TS_TESTBED_TIMEOUT',
      `${guest} guest did not power off within ${boot.timeoutMs} ms (${where}); run directory ${runDir}`,
      { consoleTail },
    );
  }
  const initError = readIfExists(join(runDir, 'init-error'));
  if (initError !== undefined) {
    throw new TestbedError(
      'VFIO_TS_TESTBED_BOOT',
      `${guest} guest init failed: ${initError.trim()}; run directory ${runDir}`,
      {
        consoleTail,
      },
    );
  }
  const exitText = readIfExists(join(runDir, 'exit-code'));
  const infoText = readIfExists(join(runDir, 'guest-info.txt'));
  if (exitText === undefined || infoText === undefined) {
    const panic = /Kernel panic[^\n]*/.exec(boot.console)?.[0];
    throw new TestbedError(
      'VFIO_TS_TESTBED_BOOT',
      `${guest} guest stopped before the entry finished (QEMU exit ${boot.status})${panic ? `: ${panic}` : ''}; run directory ${runDir}`,
      { consoleTail },
    );
  }
  const info = parseGuestInfo(infoText);
  const resultsText = readIfExists(join(runDir, 'results.json'));
  let results: unknown;
  if (resultsText !== undefined) {
    try {
      results = JSON.parse(resultsText);
    } catch (error) {
      throw new TestbedError(
        'VFIO_TS_TESTBED_RESULTS',
        `results.json from the ${guest} guest is not JSON: ${String(error)}`,
        {
          consoleTail,
        },
      );
    }
  }
  const exitCode = Number(exitText.trim());
  if (exitCode === 0 && options.keepRunDir !== true) rmSync(runDir, { recursive: true, force: true });
  const readyAt = boot.readyAt ?? boot.endedAt;
  return {
    guestName: guest,
    arch,
    kernelVersion: info.kernelVersion,
    procVersion: info.procVersion,
    iommu: info.iommu,
    devices: info.devices,
    guest: info,
    nodeVersion: image.nodeVersion,
    exitCode,
    results,
    console: boot.console,
    timings: {
      bootMs: readyAt - boot.startedAt,
      entryMs: (boot.exitAt ?? boot.endedAt) - readyAt,
      totalMs: boot.endedAt - boot.startedAt,
    },
    runDir,
    bootCrashes,
  };
}

/** A kernel oops before init said the guest was ready (nothing of the test had run yet), as one line. */
export function earlyCrash(boot: {
  readonly console: string;
  readonly readyAt: number | undefined;
}): string | undefined {
  if (boot.readyAt !== undefined) return undefined;
  const oops = /Oops: [^\r\n]*/.exec(boot.console)?.[0];
  if (oops === undefined) return undefined;
  const rip = /RIP: [^\r\n]*|NIP[: ][^\r\n]*/.exec(boot.console)?.[0];
  return rip === undefined ? oops.trim() : `${oops.trim()}, ${rip.trim()}`;
}

function makeRunDir(guest: GuestName): string {
  const runs = join(cacheDir(), 'runs');
  mkdirSync(runs, { recursive: true });
  pruneRuns(runs, 20);
  const dir = join(
    runs,
    `${new Date().toISOString().replace(/[:.]/g, '-')}-${guest}-${randomBytes(3).toString('hex')}`,
  );
  mkdirSync(dir);
  return dir;
}

/** Failed runs are kept for inspection; only the newest few, so the cache does not grow without bound. */
function pruneRuns(runs: string, keep: number): void {
  const dirs = readdirSync(runs)
    .map((name) => ({ name, mtime: statSync(join(runs, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of dirs.slice(keep)) rmSync(join(runs, old.name), { recursive: true, force: true });
}

function prepareRunDir(
  runDir: string,
  image: GuestImage,
  devices: readonly DeviceModel[],
  options: RunInGuestOptions,
): void {
  if (image.koffiModules !== '') {
    mkdirSync(join(runDir, 'node_modules'));
    // The guest resolves koffi through this link; its target is a path as the guest sees it.
    symlinkSync(join(image.koffiModules, 'koffi'), join(runDir, 'node_modules', 'koffi'));
  }
  const bind = [...new Set(devices.map((d) => deviceModels[d].pciId))].join(' ');
  const mode = options.devVfioMode ?? '';
  if (!/^[0-7]{0,4}$/.test(mode))
    throw new TestbedError('VFIO_TS_TESTBED_ENV', `devVfioMode '${mode}' is not an octal mode`);
  // A host checkout under /tmp (CI clones often are) would vanish under the guest's tmpfs /tmp: init keeps it.
  const keep = image.koffiModules.startsWith('/tmp/') ? image.koffiModules : '';
  writeFileSync(
    join(runDir, 'params.sh'),
    `VFIO_TS_BIND=${shellQuote(bind)}\nVFIO_TS_DEV_VFIO_MODE=${shellQuote(mode)}\nVFIO_TS_KEEP=${shellQuote(keep)}\n`,
  );
  const env: Record<string, string> = {
    HOME: '/tmp',
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    ...image.env,
    NODE_DISABLE_COLORS: '1',
    VFIO_TS_GUEST: '1',
    VFIO_TS_GUEST_ARCH: image.arch,
    VFIO_TS_GUEST_NAME: image.guest,
    VFIO_TS_RESULTS: `${guestRunDir}/results.json`,
    VFIO_TS_GUEST_INFO: `${guestRunDir}/guest-info.txt`,
    ...options.env,
  };
  const lines = ['cd /tmp/vfio-ts || exit 90'];
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new TestbedError('VFIO_TS_TESTBED_ENV', `bad variable name ${k}`);
    lines.push(`export ${k}=${shellQuote(v)}`);
  }
  const argv = [image.node, `${guestRunDir}/entry.mjs`, ...(options.args ?? [])].map(shellQuote).join(' ');
  lines.push(`exec ${argv}`);
  writeFileSync(join(runDir, 'run.sh'), `${lines.join('\n')}\n`);
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

interface QemuOutcome {
  readonly console: string;
  readonly status: number | null;
  readonly timedOut: boolean;
  readonly timeoutMs: number;
  readonly startedAt: number;
  readonly readyAt: number | undefined;
  readonly exitAt: number | undefined;
  readonly endedAt: number;
}

function runQemu(
  program: string,
  args: readonly string[],
  timeoutMs: number,
  onConsole: ((text: string) => void) | undefined,
): Promise<QemuOutcome> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    let readyAt: number | undefined;
    let exitAt: number | undefined;
    let text = '';
    let timedOut = false;
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer): void => {
      const s = chunk.toString('utf8');
      text += s;
      onConsole?.(s);
      if (readyAt === undefined && text.includes(markers.ready)) readyAt = Date.now();
      if (exitAt === undefined && text.includes(markers.exit)) exitAt = Date.now();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(
        new TestbedError('VFIO_TS_TESTBED_EXEC', `cannot start ${program}: ${error.message} (run .ci/testbed-deps.sh)`),
      );
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ console: text, status, timedOut, timeoutMs, startedAt, readyAt, exitAt, endedAt: Date.now() });
    });
  });
}
