// SPDX-License-Identifier: MIT
/**
 * The pinned uapi headers in spec/vendor: each is `linux/vfio.h` from one Debian `linux-libc-dev` package plus the
 * arch-independent headers it includes (linux/*, asm-generic/*) from the same package. `asm/*` is deliberately not
 * vendored: it is the per-architecture part (the ioctl encoding lives there) and comes from each ABI's sysroot.
 *
 * Usage:
 *   npx tsx --conditions=@vfio-ts/source codegen/src/probe/vendor.ts verify
 *   npx tsx --conditions=@vfio-ts/source codegen/src/probe/vendor.ts fetch <debian-version> [--suite S] [--write]
 * `fetch` re-downloads through a private apt configuration (the host's apt state is untouched) and checks the .deb
 * and every file against the manifest; with `--write` it (re)writes the directory and the manifest entry.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { specHeaders } from '../spec/headers.js';
import { ABI_NAMES, type AbiName, resolveToolchain } from './abis.js';
import { ProbeError } from './errors.js';

const run = promisify(execFile);

export const VENDOR_ROOT: string = fileURLToPath(new URL('../../../spec/vendor', import.meta.url));
const MANIFEST = 'manifest.yaml';
const MANIFEST_HEADER =
  '# SPDX-License-Identifier: MIT\n' +
  '# Vendored uapi headers from Debian linux-libc-dev packages, with sha256 of each .deb and file.\n' +
  '# Written by codegen/src/probe/vendor.ts (fetch --write); checked by its verify and by the probe tests.\n';

export interface VendoredHeader {
  /** Directory under spec/vendor: `linux-<version>`. */
  readonly dir: string;
  readonly package: string;
  readonly version: string;
  readonly suite: string;
  readonly architecture: string;
  readonly 'deb-sha256': string;
  /** Path relative to `dir` → sha256. */
  readonly files: Readonly<Record<string, string>>;
}

export interface VendorManifest {
  /** The newest vendored version: what the generator uses by default. */
  readonly current: string;
  readonly headers: readonly VendoredHeader[];
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function readManifest(root: string = VENDOR_ROOT): VendorManifest {
  return parse(readFileSync(join(root, MANIFEST), 'utf8')) as VendorManifest;
}

/** The include directory for a vendored version (default: `current`), for `probeLayouts({ headerDir })`. */
export function vendoredHeaderDir(version?: string, root: string = VENDOR_ROOT): string {
  const manifest = readManifest(root);
  const wanted = version ?? manifest.current;
  const entry = manifest.headers.find((h) => h.version === wanted);
  if (!entry) throw new ProbeError('VFIO_TS_VENDOR', `no vendored header ${wanted} in ${join(root, MANIFEST)}`);
  return join(root, entry.dir);
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/** Recomputes every checksum; also flags files on disk the manifest does not list and a `current` that is absent. */
export function verifyVendor(root: string = VENDOR_ROOT): { ok: boolean; problems: string[]; checked: number } {
  const manifest = readManifest(root);
  const problems: string[] = [];
  let checked = 0;
  if (!manifest.headers.some((h) => h.version === manifest.current)) {
    problems.push(`current ${manifest.current} is not among the vendored headers`);
  }
  for (const h of manifest.headers) {
    const dir = join(root, h.dir);
    if (!h.files['linux/vfio.h']) problems.push(`${h.dir}: manifest lists no linux/vfio.h`);
    for (const [file, want] of Object.entries(h.files)) {
      const path = join(dir, file);
      if (!existsSync(path)) {
        problems.push(`${h.dir}/${file}: missing`);
        continue;
      }
      checked++;
      const got = sha256(readFileSync(path));
      if (got !== want) problems.push(`${h.dir}/${file}: sha256 ${got}, manifest says ${want}`);
    }
    for (const file of listFiles(dir)) {
      if (!(file in h.files)) problems.push(`${h.dir}/${file}: on disk but not in the manifest`);
    }
  }
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (entry.isDirectory() && !manifest.headers.some((h) => h.dir === entry.name)) {
      problems.push(`${entry.name}: directory not in the manifest`);
    }
  }
  return { ok: problems.length === 0, problems, checked };
}

export interface FetchOptions {
  readonly version: string;
  /** Debian suite serving that version; default: the manifest's, else required. */
  readonly suite?: string;
  readonly root?: string;
  /** Write the directory and manifest entry; otherwise only compare with what is vendored. */
  readonly write?: boolean;
  readonly mirror?: string;
  readonly log?: (line: string) => void;
}

export interface FetchResult {
  readonly entry: VendoredHeader;
  /** Differences from the manifest (empty when it matches or the version was not vendored yet). */
  readonly mismatches: string[];
  readonly written: boolean;
}

/**
 * Downloads `linux-libc-dev=<version>`, extracts the include closure of the headers the spec covers (vfio.h, and
 * iommufd.h where the package has it) and checks it against the manifest.
 */
export async function fetchVendoredHeader(options: FetchOptions): Promise<FetchResult> {
  const root = options.root ?? VENDOR_ROOT;
  const log = options.log ?? (() => {});
  const manifest: VendorManifest = existsSync(join(root, MANIFEST))
    ? readManifest(root)
    : { current: options.version, headers: [] };
  const known = manifest.headers.find((h) => h.version === options.version);
  const suite = options.suite ?? known?.suite;
  if (!suite) throw new ProbeError('VFIO_TS_VENDOR', `${options.version} is not vendored yet: pass its suite`);
  const mirror = options.mirror ?? process.env.VFIO_TS_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

  const work = await mkdtemp(join(tmpdir(), 'vfio-ts-vendor-'));
  try {
    const deb = await aptDownload(work, mirror, suite, options.version, log);
    const debBytes = readFileSync(deb);
    const architecture = (await run('dpkg-deb', ['-f', deb, 'Architecture'])).stdout.trim();
    const extracted = join(work, 'root');
    await run('dpkg', ['-x', deb, extracted]);
    const include = join(extracted, 'usr', 'include');
    const closure = await includeClosure(include, log);

    const files: Record<string, string> = {};
    for (const file of closure) files[file] = sha256(readFileSync(join(include, file)));
    const entry: VendoredHeader = {
      dir: `linux-${options.version}`,
      package: 'linux-libc-dev',
      version: options.version,
      suite,
      architecture,
      'deb-sha256': sha256(debBytes),
      files,
    };

    const mismatches = known ? compareEntries(known, entry) : [];
    if (!options.write) return { entry, mismatches, written: false };

    const dir = join(root, entry.dir);
    for (const file of closure) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), readFileSync(join(include, file)));
    }
    const headers = [...manifest.headers.filter((h) => h.version !== entry.version), entry];
    headers.sort((a, b) => compareVersions(a.version, b.version));
    const current = headers[headers.length - 1]!.version;
    writeFileSync(join(root, MANIFEST), MANIFEST_HEADER + stringify({ current, headers }, { lineWidth: 0 }));
    return { entry, mismatches, written: true };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function compareEntries(want: VendoredHeader, got: VendoredHeader): string[] {
  const out: string[] = [];
  if (want['deb-sha256'] !== got['deb-sha256']) {
    out.push(`.deb sha256 ${got['deb-sha256']}, manifest says ${want['deb-sha256']}`);
  }
  if (want.architecture !== got.architecture)
    out.push(`architecture ${got.architecture}, manifest says ${want.architecture}`);
  for (const file of new Set([...Object.keys(want.files), ...Object.keys(got.files)])) {
    if (want.files[file] !== got.files[file]) {
      out.push(`${file}: downloaded ${got.files[file] ?? '(absent)'}, manifest ${want.files[file] ?? '(absent)'}`);
    }
  }
  return out;
}

async function aptDownload(
  work: string,
  mirror: string,
  suite: string,
  version: string,
  log: (line: string) => void,
): Promise<string> {
  const apt = join(work, 'apt');
  for (const d of ['lists/partial', 'cache/archives/partial', 'sources.list.d', 'preferences.d', 'download']) {
    mkdirSync(join(apt, d), { recursive: true });
  }
  writeFileSync(join(apt, 'status'), '');
  writeFileSync(
    join(apt, 'sources.list'),
    `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} ${suite} main\n`,
  );
  // Every path apt would otherwise take from /etc/apt or /var/lib is redirected, so the host's apt is untouched.
  const opts = [
    `Dir::Etc::sourcelist=${join(apt, 'sources.list')}`,
    `Dir::Etc::sourceparts=${join(apt, 'sources.list.d')}`,
    `Dir::Etc::preferences=${join(apt, 'preferences')}`,
    `Dir::Etc::preferencesparts=${join(apt, 'preferences.d')}`,
    `Dir::State::Lists=${join(apt, 'lists')}`,
    `Dir::State::status=${join(apt, 'status')}`,
    `Dir::Cache=${join(apt, 'cache')}`,
    'APT::Architecture=amd64',
    'APT::Architectures=amd64',
    // The private dirs are made by this process; apt's _apt sandbox user could not write them.
    'APT::Sandbox::User=root',
  ].flatMap((o) => ['-o', o]);
  log(`apt-get update (${suite})`);
  try {
    await run('apt-get', [...opts, '-q', 'update'], { maxBuffer: 16 << 20 });
    log(`apt-get download linux-libc-dev=${version}`);
    await run('apt-get', [...opts, '-q', 'download', `linux-libc-dev=${version}`], {
      cwd: join(apt, 'download'),
      maxBuffer: 16 << 20,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr || (error as Error).message);
    throw new ProbeError('VFIO_TS_VENDOR', `apt failed for linux-libc-dev=${version} from ${suite}: ${stderr}`, {
      cause: error,
    });
  }
  const debs = readdirSync(join(apt, 'download')).filter((f) => f.endsWith('.deb'));
  if (debs.length !== 1) throw new ProbeError('VFIO_TS_VENDOR', `expected one .deb, got ${debs.join(', ')}`);
  return join(apt, 'download', debs[0]!);
}

/**
 * The headers under `include` that `#include <linux/vfio.h>` reads, asked of each available compiler (`-M`) and
 * united: which asm-generic file asm/types.h pulls in differs by architecture (int-l64.h on ppc64).
 */
async function includeClosure(include: string, log: (line: string) => void): Promise<string[]> {
  const files = new Set<string>();
  const used: AbiName[] = [];
  const work = await mkdtemp(join(tmpdir(), 'vfio-ts-closure-'));
  try {
    const source = join(work, 'closure.c');
    // Every header the spec covers that this package ships (linux/iommufd.h is absent before 6.2).
    const wanted = specHeaders()
      .map((h) => h.path)
      .filter((h) => existsSync(join(include, h)));
    writeFileSync(source, wanted.map((h) => `#include <${h}>\n`).join(''));
    for (const abi of ABI_NAMES) {
      const tc = await resolveToolchain(abi).catch(() => undefined);
      if (!tc) continue;
      const { stdout } = await run(tc.compiler, [...tc.args, '-M', '-I', include, source]);
      used.push(abi);
      for (const token of stdout.replace(/\\\n/g, ' ').split(/\s+/)) {
        const path = resolve(work, token);
        if (path.startsWith(include + sep)) files.add(relative(include, path).split(sep).join('/'));
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (used.length === 0) throw new ProbeError('VFIO_TS_PROBE_TOOLCHAIN_MISSING', 'no compiler to compute the closure');
  if (used.length < ABI_NAMES.length) log(`closure from ${used.join(', ')} only: install the rest (.ci/abi-deps.sh)`);
  if (!files.has('linux/vfio.h')) throw new ProbeError('VFIO_TS_VENDOR', 'the package has no linux/vfio.h');
  return [...files].sort();
}

/** dpkg's own ordering (epochs, `~`), not a reimplementation of it. */
function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  return spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0 ? -1 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'verify') {
    const { ok, problems, checked } = verifyVendor();
    for (const p of problems) console.error(p);
    console.log(ok ? `vendor: ${checked} files match the manifest` : `vendor: ${problems.length} problems`);
    return ok ? 0 : 1;
  }
  if (command === 'fetch' && rest[0]) {
    const suiteAt = rest.indexOf('--suite');
    const result = await fetchVendoredHeader({
      version: rest[0],
      ...(suiteAt >= 0 ? { suite: rest[suiteAt + 1] } : {}),
      write: rest.includes('--write'),
      log: (line) => console.error(line),
    });
    for (const m of result.mismatches) console.error(`mismatch: ${m}`);
    console.log(stringify(result.entry));
    console.log(result.written ? 'written' : result.mismatches.length ? 'MISMATCH' : 'matches (or not vendored yet)');
    return result.mismatches.length && !result.written ? 1 : 0;
  }
  console.error('usage: vendor.ts verify | fetch <debian-version> [--suite <suite>] [--write]');
  return 2;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
