// SPDX-License-Identifier: MIT
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestbedError } from './errors.js';
import { exec } from './exec.js';

const mirror = 'http://deb.debian.org/debian';
const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * An apt configuration of its own (sources, lists, cache, status) for a foreign architecture, so that fetching
 * ppc64el packages never touches the host's apt state or dpkg's architecture list.
 */
export class PrivateApt {
  readonly dir: string;
  readonly arch: string;
  readonly suites: readonly string[];

  constructor(dir: string, arch: string, suites: readonly string[]) {
    this.dir = dir;
    this.arch = arch;
    this.suites = suites;
  }

  private options(): string[] {
    const d = this.dir;
    return [
      '-o',
      `Dir::Etc::SourceList=${join(d, 'sources.list')}`,
      '-o',
      'Dir::Etc::SourceParts=/dev/null',
      '-o',
      `Dir::Etc::Preferences=${join(d, 'preferences')}`,
      '-o',
      'Dir::Etc::PreferencesParts=/dev/null',
      '-o',
      `Dir::State=${join(d, 'state')}`,
      '-o',
      `Dir::State::Lists=${join(d, 'state', 'lists')}`,
      '-o',
      `Dir::State::status=${join(d, 'state', 'status')}`,
      '-o',
      `Dir::Cache=${join(d, 'cache')}`,
      '-o',
      `APT::Architecture=${this.arch}`,
      '-o',
      `APT::Architectures::=${this.arch}`,
      '-o',
      'Acquire::Languages=none',
      '-o',
      'Debug::NoLocking=1',
    ];
  }

  /** Writes the configuration and fetches the indexes unless they are already there (`refresh` forces). */
  update(refresh = false): void {
    const lists = join(this.dir, 'state', 'lists');
    mkdirSync(join(lists, 'partial'), { recursive: true });
    mkdirSync(join(this.dir, 'cache', 'archives', 'partial'), { recursive: true });
    const sources = this.suites.map((s) => `deb [arch=${this.arch} signed-by=${keyring}] ${mirror} ${s} main`);
    writeFileSync(join(this.dir, 'sources.list'), `${sources.join('\n')}\n`);
    writeFileSync(join(this.dir, 'preferences'), '');
    if (!existsSync(join(this.dir, 'state', 'status'))) writeFileSync(join(this.dir, 'state', 'status'), '');
    const haveLists = readdirSync(lists).some((f) => f.endsWith('_Packages') || f.endsWith('_Packages.lz4'));
    if (haveLists && !refresh) return;
    // The mirror has served ppc64el indexes that disagree with their Release file; such a failure is usually gone
    // on the next try, and a partial update still leaves the other suites usable.
    let last = '';
    for (let attempt = 1; attempt <= 3; attempt++) {
      const r = exec('apt-get', [...this.options(), '-q', 'update'], { allowFailure: true });
      last = r.stderr + r.stdout;
      if (r.status === 0 && !/^(W|E): Failed/m.test(r.stderr)) return;
    }
    const nowHaveLists = readdirSync(lists).some((f) => f.includes('_Packages'));
    if (!nowHaveLists) {
      throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `apt-get update for ${this.arch} failed:\n${last}`);
    }
  }

  /** `apt-cache` query with this configuration. */
  cache(args: readonly string[]): string {
    return exec('apt-cache', [...this.options(), ...args]).stdout;
  }

  /**
   * Downloads packages (`name` or `name=version` or `name/suite`) into `dest` and returns the .deb paths. A .deb
   * already there is reused: any version for `name` and `name/suite`, that version for `name=version`.
   */
  download(packages: readonly string[], dest: string): string[] {
    return downloadDebs(packages, dest, this.options());
  }
}

/** Downloads with the host's own apt configuration (packages of the host's architecture). */
export function hostAptDownload(packages: readonly string[], dest: string): string[] {
  return downloadDebs(packages, dest, []);
}

function downloadDebs(packages: readonly string[], dest: string, options: string[]): string[] {
  mkdirSync(dest, { recursive: true });
  const out: string[] = [];
  for (const spec of packages) {
    const name = spec.split(/[=/]/)[0] ?? spec;
    const version = spec.includes('=') ? spec.slice(spec.indexOf('=') + 1) : undefined;
    // apt names a download <name>_<version with ':' as %3a>_<arch>.deb.
    const prefix = version === undefined ? `${name}_` : `${name}_${version.replaceAll(':', '%3a')}_`;
    const existing = readdirSync(dest).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
    if (existing !== undefined) {
      out.push(join(dest, existing));
      continue;
    }
    const before = new Set(readdirSync(dest));
    exec('apt-get', [...options, '-q', 'download', spec], { cwd: dest });
    const added = readdirSync(dest).filter((f) => !before.has(f) && f.endsWith('.deb'));
    const deb = added[0] ?? readdirSync(dest).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
    if (deb === undefined) throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `apt-get download ${spec} left no .deb`);
    out.push(join(dest, deb));
  }
  return out;
}

/** The first `Depends:` entry of a metapackage in a given suite, e.g. linux-image-powerpc64le → linux-image-6.12…. */
export function metapackageTarget(show: string): string {
  const depends = /^Depends: (.+)$/m.exec(show)?.[1];
  const first = depends?.split(',')[0]?.trim().split(/[\s(]/)[0];
  if (first === undefined || first === '')
    throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `no Depends in:\n${show}`);
  return first;
}
