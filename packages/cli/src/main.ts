#!/usr/bin/env node
// SPDX-License-Identifier: MIT
import { run } from './cli.js';

run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
