/**
 * `mdlin demo` (what `npm start` runs): the project's main job in about a minute on a small
 * machine. A local cluster of 3 shards × 3 replicas runs Multi-Paxos, then one runs MDL; each
 * serves two closed-loop clients that send application requests of 1, 2, 4, 8 and 16
 * operations over links that each take T = 10 ms one way (large beside the few ms an fsync'd
 * round costs on a small machine, so the model is what is measured); every history is checked.
 * It prints the comparison table (MDL's median latency as a fraction of Multi-Paxos's, next to
 * the model's (6T + (N − 1)T) / 4NT) and the per-phase breakdown, and where the report is.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { TOPOLOGIES, topologyDelaysMs } from '../bench/model.js';
import { classTopology } from '../bench/delays.js';
import { MIX_DEFAULT } from '../bench/workload.js';
import { runBench, seconds } from './bench.js';
import { delayMs } from './delays.js';
import { operatorError } from './util.js';

export const DEMO_OUT_DEFAULT = 'mdlin-report';

interface DemoFlags {
  out: string;
  delayMs: number;
  duration: number;
  fsync: boolean;
}

export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('MDL against Multi-Paxos on a local 3-shard cluster in about a minute: prints the comparison table and writes a report')
    .option('--out <dir>', 'where the report, results.json, histories and logs go', DEMO_OUT_DEFAULT)
    .option('--delay-ms <ms>', 'one-way delay T of every link', delayMs, 10)
    .option('--duration <s>', 'measured seconds per cell (10 cells)', seconds, 3)
    .option('--no-fsync', 'replicas do not fsync their logs')
    .action(async (o: DemoFlags) => {
      const out = path.resolve(o.out);
      process.stderr.write(
        `mdlin demo: Multi-Paxos (single-dispatch) against MDL (multi-dispatch) on 3 shards of 3 replicas,\n` +
          `2 clients, requests of 1 to 16 operations, every link ${o.delayMs} ms one way; every history is checked.\n`,
      );
      const results = await runBench(
        {
          protocols: ['paxos', 'mdl'],
          shards: [3],
          fanouts: [1, 2, 4, 8, 16],
          clients: [2],
          settings: [{ name: 'uniform', delayMs: o.delayMs, topology: classTopology(topologyDelaysMs(TOPOLOGIES.uniform, o.delayMs)) }],
          replicas: 3,
          durationS: o.duration,
          warmupS: 0.5,
          cooldownS: 0.2,
          keys: 100_000,
          zipf: 0,
          mix: MIX_DEFAULT,
          valueBytes: 16,
          fsync: o.fsync,
          check: true,
          checkTimeoutS: 60,
          phases: true,
          seed: 1,
          out,
        },
        `mdlin demo ${process.argv.slice(3).join(' ')}`.trim(),
        false,
      );
      const bad = results.filter((r) => r.check === 'violation').length;
      if (bad > 0) operatorError(`${bad} of ${results.length} histories violated their consistency model (see the report)`);
      process.exit(0);
    });
}
