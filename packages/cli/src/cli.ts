// SPDX-License-Identifier: MIT
/**
 * The `vfio-ts` command as a function: `run(argv, io)` parses, dispatches and returns the exit status, writing only
 * through `io`, so tests run it in-process. `main.ts` is the executable around it.
 */
import { parseArgs } from 'node:util';
import { isSystemError, VfioTsError } from '@vfio-ts/core';
import { catalogue } from './catalogue.js';
import { runDemo } from './demo.js';
import { CliError, type Host, koffiHost, SIM_PROFILES, simHost } from './host.js';
import { inspect, renderInspect } from './inspect.js';
import { colorEnabled, createOutput, type Output } from './ui.js';

export const USAGE = `usage: vfio-ts <command> [options]

commands:
  demo        a whole VFIO session with real DMA on QEMU's edu device, narrated (the default)
                --profile x86_64-q35|ppc64le-pseries|both   simulated machine(s) (default: both)
                --backend sim|koffi                          koffi: this host's /dev/vfio (default: sim)
                --group <n> --device <BDF>                   the edu device to drive (default: the first edu found)
  inspect     IOMMU groups, devices, regions, IRQs, the IOMMU's capabilities and windows
                --sim <profile>                              a simulated machine instead of this host
                --json                                       machine-readable output
  catalogue   every VFIO ioctl: fd kind, IOMMU backend, argument, request number per ABI  [--json]

options:
  --no-color  plain output (also when NO_COLOR is set or the output is not a terminal)
  -h, --help  this text
`;

export interface CliIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly env?: NodeJS.ProcessEnv;
  /** For tests: where a real host's /dev and /sys are (default '/'). */
  readonly root?: string;
}

function output(stream: CliIo['stdout'], io: CliIo, noColor: boolean): Output {
  return createOutput((t) => stream.write(t), !noColor && colorEnabled(stream, io.env ?? process.env));
}

function parseCli(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'no-color': { type: 'boolean' },
      profile: { type: 'string' },
      backend: { type: 'string' },
      sim: { type: 'string' },
      group: { type: 'string' },
      device: { type: 'string' },
      message: { type: 'string' },
    },
  } as const);
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(argv);
  } catch (error) {
    io.stderr.write(`vfio-ts: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const noColor = values['no-color'] === true;
  const out = output(io.stdout, io, noColor);
  const err = output(io.stderr, io, noColor);
  if (values.help) {
    out.write(USAGE);
    return 0;
  }
  const command = positionals[0] ?? 'demo';
  try {
    switch (command) {
      case 'catalogue':
        out.write(`${catalogue({ json: values.json === true })}\n`);
        return 0;
      case 'demo':
        return await demo(values, out, io);
      case 'inspect':
        return await inspectCommand(values, out, io);
      default:
        err.write(`vfio-ts: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    reportError(error, err);
    return 1;
  }
}

function parseGroup(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new CliError('VFIO_TS_CLI_BAD_OPTION', `--group takes an IOMMU group number, not '${value}'`, [
      'the number is the name of the node in /dev/vfio (see `vfio-ts inspect`)',
    ]);
  }
  return Number(value);
}

async function openHost(backend: string | undefined, profile: string, io: CliIo): Promise<Host> {
  if (backend === undefined || backend === 'sim') return simHost(profile);
  if (backend === 'koffi') return koffiHost(io.root !== undefined ? { root: io.root } : {});
  throw new CliError('VFIO_TS_CLI_BAD_OPTION', `unknown backend '${backend}'`, [
    'use --backend sim (the simulator, default) or --backend koffi (this host)',
  ]);
}

type Values = Record<string, string | boolean | undefined>;

async function demo(values: Values, out: Output, io: CliIo): Promise<number> {
  const backend = values.backend as string | undefined;
  const options = {
    ...(parseGroup(values.group as string | undefined) !== undefined
      ? { group: parseGroup(values.group as string)! }
      : {}),
    ...(values.device !== undefined ? { device: values.device as string } : {}),
    ...(values.message !== undefined ? { message: values.message as string } : {}),
  };
  if (backend === 'koffi') {
    if (values.profile !== undefined) {
      throw new CliError(
        'VFIO_TS_CLI_BAD_OPTION',
        '--profile picks a simulated machine; it has no meaning with --backend koffi',
      );
    }
    const result = await runDemo(await openHost('koffi', '', io), out, options);
    return result.roundTripOk ? 0 : 1;
  }
  const choice = (values.profile as string | undefined) ?? 'both';
  const profiles = choice === 'both' ? [...SIM_PROFILES] : [choice];
  let status = 0;
  for (const profile of profiles) {
    const result = await runDemo(await openHost(backend, profile, io), out, options);
    if (!result.roundTripOk || result.locked.after !== result.locked.baseline) status = 1;
  }
  return status;
}

async function inspectCommand(values: Values, out: Output, io: CliIo): Promise<number> {
  const sim = values.sim as string | undefined;
  if (sim !== undefined && values.backend !== undefined && values.backend !== 'sim') {
    throw new CliError('VFIO_TS_CLI_BAD_OPTION', '--sim and --backend koffi exclude each other');
  }
  const host =
    sim !== undefined ? simHost(sim) : await openHost(values.backend === 'sim' ? 'sim' : 'koffi', 'x86_64-q35', io);
  const report = inspect(host);
  out.write(values.json === true ? `${JSON.stringify(report, jsonBigint, 2)}\n` : renderInspect(report, out));
  return 0;
}

/** bigints as hex strings in JSON (addresses and sizes do not fit a double). */
export function jsonBigint(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : value;
}

/** One clear message, then what to do; the stack only with VFIO_TS_DEBUG set. */
export function reportError(error: unknown, err: Output): void {
  const c = err.colors;
  if (error instanceof CliError) {
    err.write(`${c.red('vfio-ts:')} ${error.message}\n`);
    for (const a of error.advice) err.write(`  ${c.yellow('→')} ${a}\n`);
    return;
  }
  if (isSystemError(error) || error instanceof VfioTsError) {
    err.write(`${c.red('vfio-ts:')} ${error.message}\n`);
    err.write(`  ${c.dim(`code ${error.code}`)}\n`);
    return;
  }
  err.write(
    `${c.red('vfio-ts: unexpected error:')} ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
}
