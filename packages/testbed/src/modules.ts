// SPDX-License-Identifier: MIT
import { TestbedError } from './errors.js';

/** A module name as the kernel compares them: `vfio-pci` and `vfio_pci` are the same module. */
export function moduleName(pathOrName: string): string {
  const base = pathOrName.split('/').pop() ?? pathOrName;
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');
}

export interface ModuleIndex {
  /** module name → path relative to /lib/modules/<version>/ */
  readonly paths: ReadonlyMap<string, string>;
  /** module name → names of the modules it needs */
  readonly deps: ReadonlyMap<string, readonly string[]>;
  readonly builtin: ReadonlySet<string>;
}

/** Parses `modules.dep` and `modules.builtin` as shipped in Debian's kernel packages. */
export function parseModuleIndex(modulesDep: string, modulesBuiltin: string): ModuleIndex {
  const paths = new Map<string, string>();
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const name = moduleName(path);
    paths.set(name, path);
    deps.set(
      name,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter((d) => d !== '')
        .map(moduleName),
    );
  }
  const builtin = new Set(
    modulesBuiltin
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(moduleName),
  );
  return { paths, deps, builtin };
}

/**
 * The modules to insmod, dependencies first, for the wanted ones. Built-in modules are dropped; a wanted module
 * that is neither built in nor shipped is an error naming it, because the guest would fail later and less clearly.
 */
export function resolveModules(index: ModuleIndex, wanted: readonly string[]): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: readonly string[]): void => {
    if (state.get(name) === 'done' || (index.builtin.has(name) && !index.paths.has(name))) return;
    if (state.get(name) === 'visiting') {
      throw new TestbedError('VFIO_TS_TESTBED_PROVISION', `module dependency cycle: ${[...chain, name].join(' → ')}`);
    }
    if (!index.paths.has(name)) {
      throw new TestbedError(
        'VFIO_TS_TESTBED_PROVISION',
        `kernel module ${name} is neither built in nor in modules.dep${chain.length > 0 ? ` (needed by ${chain.join(' → ')})` : ''}`,
      );
    }
    state.set(name, 'visiting');
    for (const dep of index.deps.get(name) ?? []) visit(dep, [...chain, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const w of wanted) visit(moduleName(w), []);
  return order;
}
