#!/usr/bin/env node
/**
 * `npm run bench -- <name> [flags]`: the project's benchmarks, one subcommand each, every one
 * with --help:
 *   paxos   writes against a local 3-replica Multi-Paxos shard (fsync on/off, closed loop and pipelined)
 *   matrix  MDL against Multi-Paxos on local clusters (the same as `mdlin bench`)
 *   check   time and memory of the history checkers
 *   codec   encode/decode rates of the wire codec
 *   wal     append+sync rates of the write-ahead log
 * An entry point like the `mdlin` command: it starts local clusters through the command line's
 * LocalCluster, so it sits above src/cli.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, type CommanderError } from 'commander';
import { addBenchCommand, LocalLauncher, seconds } from '../cli/bench.js';
import { integer } from '../cli/parse.js';
import { EXIT_USAGE, writeOut } from '../cli/util.js';
import { benchWal } from '../storage/bench.js';
import { benchCodec } from '../transport/bench.js';
import { benchCheck } from './check.js';
import { benchPaxos, formatPaxosRows } from './paxos.js';

function fsyncModes(text: string): boolean[] {
  switch (text) {
    case 'on':
      return [true];
    case 'off':
      return [false];
    case 'both':
      return [true, false];
    default:
      throw new InvalidArgumentError('expected on, off or both');
  }
}

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

interface PaxosFlags {
  duration: number;
  warmup: number;
  clients: number;
  window: number;
  fsync: boolean[];
  keys: number;
  valueSize: number;
  profile?: string;
}

const program = new Command('npm run bench --')
  .description("mdlin's benchmarks")
  .exitOverride((err: CommanderError) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE))
  .showSuggestionAfterError(true);

program
  .command('paxos')
  .description('throughput and latency of writes to a local 3-replica Multi-Paxos shard, fsync on and off')
  .option('--duration <s>', 'measured seconds per setting', seconds, 5)
  .option('--warmup <s>', 'seconds before measuring', seconds, 1)
  .option('--clients <n>', 'clients of the pipelined setting', integer(1, 1024), 16)
  .option('--window <n>', 'puts each pipelined client keeps in flight', integer(1, 100_000), 256)
  .option('--fsync <mode>', 'on, off or both', fsyncModes, [true, false])
  .option('--keys <n>', 'key space size', integer(1), 100_000)
  .option('--value-size <bytes>', 'bytes per written value', integer(0, 1 << 20), 16)
  .option('--profile <dir>', 'run the replicas under node --cpu-prof, keep the profiles here, and summarise the leader\'s')
  .action(async (o: PaxosFlags) => {
    // The clusters' data and logs: removed however this process ends (an abort exits directly).
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'mdlin-bench-paxos-'));
    process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
    const launcher = new LocalLauncher(scratch, false, say);
    const options = {
      durationS: o.duration,
      warmupS: o.warmup,
      clients: o.clients,
      window: o.window,
      fsync: o.fsync,
      keys: o.keys,
      valueBytes: o.valueSize,
      ...(o.profile === undefined ? {} : { profileDir: o.profile }),
    };
    const rows = await launcher.guard(benchPaxos(options, launcher.launch, say));
    await writeOut(`${formatPaxosRows(rows)}\n`);
    process.exit(0);
  });

addBenchCommand(program, 'matrix');

program
  .command('check')
  .description('time and memory of the history checkers on large simulated histories, valid and with a planted stale read')
  .option('--timeout <s>', 'seconds per check before its verdict is unknown', '120')
  .option('--keys <n>', 'size of the key space of every history', '256')
  .option('--only <name>', 'one case: 10k-16c, 10k-64c, 100k-16c or 100k-64c')
  .action(async (o: { timeout: string; keys: string; only?: string }) => {
    await benchCheck(['--timeout', o.timeout, '--keys', o.keys, ...(o.only === undefined ? [] : ['--only', o.only])]);
  });

program
  .command('codec')
  .description('encode and decode rates of the wire codec')
  .option('--budget-ms <ms>', 'time per measurement', integer(10), 500)
  .action((o: { budgetMs: number }) => {
    benchCodec(o.budgetMs);
  });

program
  .command('wal')
  .description('append+sync rates of the write-ahead log, fsync on and off')
  .option('--budget-ms <ms>', 'time per measurement', integer(10), 1000)
  .action(async (o: { budgetMs: number }) => {
    await benchWal(o.budgetMs);
  });

await program.parseAsync(process.argv);
