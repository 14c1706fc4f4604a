// SPDX-License-Identifier: MIT
import { existsSync } from 'node:fs';
import { build, type Plugin } from 'esbuild';
import { TestbedError } from './errors.js';

export interface BundleOptions {
  /** A file to bundle, or source text to bundle with `resolveDir` for its imports. */
  readonly entry: string | { readonly contents: string; readonly resolveDir: string };
  readonly outfile: string;
  /** Packages resolved in the guest rather than bundled (native code). `koffi` always is. */
  readonly external?: readonly string[];
  /**
   * Packages that may be absent on the host (work in progress in the monorepo): importing one that cannot be
   * resolved yields a module that throws a clear error when loaded, instead of failing the whole bundle.
   */
  readonly optional?: readonly string[];
  /** Export conditions; inside the vfio-ts checkout `@vfio-ts/source` makes packages bundle from src/. */
  readonly conditions?: readonly string[];
}

/**
 * Bundles a test entry and everything it imports (TypeScript included) into one ES2022 module, so that the guest
 * needs nothing but node and koffi, and the same entry runs on the ppc64le guest's own node. Native packages stay
 * external and resolve through the run directory's node_modules.
 */
export async function bundleEntry(options: BundleOptions): Promise<void> {
  if (typeof options.entry === 'string' && !existsSync(options.entry)) {
    throw new TestbedError('VFIO_TS_TESTBED_BUNDLE', `test entry ${options.entry} does not exist`);
  }
  try {
    await build({
      ...(typeof options.entry === 'string'
        ? { entryPoints: [options.entry] }
        : {
            stdin: {
              contents: options.entry.contents,
              resolveDir: options.entry.resolveDir,
              loader: 'ts',
              sourcefile: 'vfio-ts-guest-entry.ts',
            },
          }),
      outfile: options.outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'es2022',
      conditions: [...(options.conditions ?? ['@vfio-ts/source'])],
      external: ['koffi', '@koromix/*', ...(options.external ?? [])],
      plugins: [optionalPackages(options.optional ?? [])],
      // Bundled CommonJS code calls require(), which ESM lacks; esbuild's shim looks for a global one. A top-level
      // `const require` would clash with bundled modules that declare their own (createRequire is common).
      banner: {
        js: "import { createRequire as __vfioTsCreateRequire } from 'node:module';\nglobalThis.require ??= __vfioTsCreateRequire(import.meta.url);",
      },
      sourcemap: 'inline',
      logLevel: 'silent',
    });
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors ?? [];
    const text = errors
      .map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`)
      .join('\n');
    throw new TestbedError('VFIO_TS_TESTBED_BUNDLE', `cannot bundle the test entry:\n${text || String(error)}`, {
      cause: error,
    });
  }
}

function optionalPackages(names: readonly string[]): Plugin {
  return {
    name: 'vfio-ts-optional',
    setup(b) {
      if (names.length === 0) return;
      const filter = new RegExp(`^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
      b.onResolve({ filter }, async (args) => {
        if (args.pluginData === 'vfio-ts-optional') return undefined;
        const resolved = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          pluginData: 'vfio-ts-optional',
        });
        if (resolved.errors.length === 0) return resolved;
        return { path: args.path, namespace: 'vfio-ts-missing' };
      });
      b.onLoad({ filter: /.*/, namespace: 'vfio-ts-missing' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} could not be resolved when the guest entry was bundled (not built yet?)`)});`,
        loader: 'js',
      }));
    },
  };
}
