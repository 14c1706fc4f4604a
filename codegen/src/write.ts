// SPDX-License-Identifier: MIT
/**
 * Builds every generated file in an in-memory ts-morph project, formats it, and compares it with what is on disk
 * (YNL's --cmp-out): only files that changed are written, and `check` writes nothing and reports the drift.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IndentationText, NewLineKind, Project, QuoteKind, type StatementStructures } from 'ts-morph';
import { header, MARKER_PREFIX } from './emit/common.js';

export interface GeneratedFile {
  /** Repository-relative path. */
  readonly path: string;
  readonly text: string;
}

export function tsFile(path: string, what: string, statements: (string | StatementStructures)[]): GeneratedFile {
  const project = new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: {
      indentationText: IndentationText.TwoSpaces,
      newLineKind: NewLineKind.LineFeed,
      quoteKind: QuoteKind.Single,
      useTrailingCommas: true,
    },
  });
  const file = project.createSourceFile('/generated.ts', { statements }, { overwrite: true });
  file.formatText({ indentSize: 2, convertTabsToSpaces: true, ensureUpdateSeparatorsOnFormat: true } as never);
  return { path, text: `${header(what)}\n${file.getFullText().trimEnd()}\n` };
}

export function jsonFile(path: string, value: unknown): GeneratedFile {
  return { path, text: `${JSON.stringify(value, null, 2)}\n` };
}

export interface WriteResult {
  readonly changed: readonly string[];
  /** Files carrying the marker under a generated directory that the generator no longer produces. */
  readonly stale: readonly string[];
}

/** Writes (or, with `check`, only compares) the files; returns what differs from disk. */
export function writeFiles(
  root: string,
  files: readonly GeneratedFile[],
  generatedDirs: readonly string[],
  check: boolean,
): WriteResult {
  const changed: string[] = [];
  for (const f of files) {
    const target = join(root, f.path);
    const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
    if (current === f.text) continue;
    changed.push(f.path);
    if (!check) writeFileSync(target, f.text);
  }
  const produced = new Set(files.map((f) => f.path));
  const stale: string[] = [];
  for (const dir of generatedDirs) {
    const abs = join(root, dir);
    if (!existsSync(abs)) continue;
    for (const name of readdirSync(abs)) {
      const rel = `${dir}/${name}`;
      if (produced.has(rel) || !name.endsWith('.ts')) continue;
      if (readFileSync(join(abs, name), 'utf8').includes(MARKER_PREFIX)) stale.push(rel);
    }
  }
  return { changed, stale };
}
