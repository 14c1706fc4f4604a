// SPDX-License-Identifier: MIT
/**
 * `npm run check:packages`: publint (strict) and @arethetypeswrong/cli (ESM-only profile) on every publishable
 * package of the workspace, each as `npm pack` would ship it. Run after `npm run build` (the root script does).
 * Exits 1 when any package has a problem, listing all of them.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../../..');
const bin = (name: string) => join(repo, 'node_modules/.bin', name);

interface Result {
  readonly name: string;
  readonly ok: boolean;
  readonly output: string;
}

async function tool(file: string, args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(file, args, {
      cwd,
      maxBuffer: 64 << 20,
      env: { ...process.env, NO_COLOR: '1' },
    });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

async function check(dir: string): Promise<Result | undefined> {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; private?: boolean };
  if (manifest.private === true) return undefined;
  if (!existsSync(join(dir, 'dist/index.js'))) {
    return { name: manifest.name, ok: false, output: `${dir}/dist/index.js is missing: run \`npm run build\` first` };
  }
  const lint = await tool(bin('publint'), ['run', dir, '--strict'], repo);
  // ESM only, by design: node10 and require() from CommonJS are out of scope.
  const types = await tool(bin('attw'), ['--pack', dir, '--profile', 'esm-only', '--no-color', '--no-emoji'], repo);
  return {
    name: manifest.name,
    ok: lint.ok && types.ok,
    output: [lint.ok ? '' : `publint:\n${lint.output}`, types.ok ? '' : `attw:\n${types.output}`]
      .filter(Boolean)
      .join('\n'),
  };
}

const dirs = readdirSync(join(repo, 'packages')).map((p) => join(repo, 'packages', p));
const results = (await Promise.all(dirs.map(check))).filter((r): r is Result => r !== undefined);
for (const r of results) {
  console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}`);
  if (!r.ok) console.log(r.output.replace(/^/gm, '     '));
}
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
