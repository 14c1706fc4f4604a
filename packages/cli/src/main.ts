#!/usr/bin/env node
// SPDX-License-Identifier: MIT
import { parseArgs } from 'node:util';
import { catalogue } from './catalogue.js';

const USAGE = `usage: vfio-ts <command> [options]

commands:
  demo         a guided VFIO session on the simulator (the default)
  catalogue    every VFIO ioctl: fd kind, IOMMU backend, argument, request number per ABI  [--json]
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = positionals[0] ?? 'demo';
  switch (command) {
    case 'catalogue':
      console.log(catalogue({ json: values.json === true }));
      return 0;
    case 'demo':
      // The simulator demo replaces this once @vfio-ts/backend-sim lands; until then the catalogue is the main job.
      console.log(catalogue());
      return 0;
    default:
      process.stderr.write(`vfio-ts: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
