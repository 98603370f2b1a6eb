/**
 * `mdlin torture`: the fault-injection harness from the command line (see harness.ts). Progress
 * goes to stderr; stdout ends with exactly one JSON line,
 * `{"ok":N,"fail":N,"unknown":N,"faults":N,"verdict":"ok|violation|unknown","converged":B}`,
 * preceded by the checker's report on a violation. Exit 0 only when the verdict is ok, the replicas
 * converged and nothing else went wrong; 1 otherwise; 2 for usage errors.
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { ProtocolName } from '../protocol/master/messages.js';
import { integer, protocol } from '../cli/parse.js';
import { EXIT_FAILURE, EXIT_USAGE, operatorError, writeOut } from '../cli/util.js';
import { runTorture, type TortureResult } from './harness.js';

interface TortureFlags {
  protocol: ProtocolName;
  shards: number;
  replicas: number;
  duration: number;
  seed?: number;
  history?: string;
  clients: number;
  window: number;
  keys: number;
  rate: number;
  opTimeout: number;
  checkTimeout: number;
  logDir?: string;
}

const SEED_MAX = 2 ** 32 - 1;

/** The last line of stdout: exactly these keys, in this order. */
function resultJson(r: TortureResult): string {
  return JSON.stringify({ ok: r.ok, fail: r.fail, unknown: r.unknown, faults: r.faults, verdict: r.verdict, converged: r.converged });
}

export function addTortureCommand(program: Command): void {
  program
    .command('torture')
    .description('run a local cluster under a recorded workload while killing, pausing and cutting off replicas; then heal, and check the history and the replicas')
    .option('--protocol <name>', 'replication protocol', protocol, 'paxos' as ProtocolName)
    .option('--shards <n>', 'shards', integer(1, 64), 1)
    .option('--replicas <n>', 'replicas per shard (a shard of R tolerates (R-1)/2 faults, so at least 3)', integer(3, 15), 3)
    .option('--duration <seconds>', 'how long faults are injected', integer(1, 86_400), 10)
    .option('--seed <n>', 'seed of the fault schedule and the workload (default: random; it is printed)', integer(0, SEED_MAX))
    .option('--history <file>', 'write the merged history here (HISTORY.md format)')
    .option('--clients <n>', 'client sessions', integer(1, 256), 4)
    .option('--window <n>', 'mdl only: operations each client keeps in flight', integer(1, 1024), 8)
    .option('--keys <n>', 'size of the key space', integer(1, 1_000_000), 8)
    .option('--rate <ops/s>', 'issue at most this many operations per second, all clients together (0: as fast as they go)', integer(0, 1_000_000), 0)
    .option('--op-timeout <ms>', 'a client operation without an outcome after this long is recorded as unknown', integer(100, 600_000), 3000)
    .option('--check-timeout <seconds>', 'the checker gives up (verdict unknown) after this long', integer(1, 86_400), 120)
    .option('--log-dir <dir>', "keep each child process's stderr in <dir>/<name>.log")
    .addHelpText(
      'after',
      '\nThe last line on stdout is one JSON object:\n' +
        '  {"ok":N,"fail":N,"unknown":N,"faults":N,"verdict":"ok|violation|unknown","converged":true|false}\n' +
        'Exit status: 0 when the history is ok and the replicas converged, 1 otherwise, 2 for usage errors.',
    )
    .action(async (o: TortureFlags, cmd: Command) => {
      if (o.protocol !== 'mdl' && cmd.getOptionValueSource('window') === 'cli') {
        operatorError(`--window applies to mdl clusters only (${o.protocol} clients dispatch one operation at a time)`, EXIT_USAGE);
      }
      if (o.history !== undefined) {
        try {
          fs.accessSync(path.dirname(path.resolve(o.history)), fs.constants.W_OK);
        } catch {
          operatorError(`cannot write the history to ${o.history}: its directory does not exist or is not writable`);
        }
      }
      const seed = o.seed ?? randomInt(SEED_MAX + 1);
      const controller = new AbortController();
      const onSignal = (signal: NodeJS.Signals): void => {
        // A second signal does not wait for the cleanup: the exit handler kills what is left.
        if (controller.signal.aborted) process.exit(EXIT_FAILURE);
        process.stderr.write(`[torture] ${signal}: stopping every process\n`);
        controller.abort(new Error(`interrupted by ${signal}`));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let result: TortureResult;
      try {
        result = await runTorture({
          protocol: o.protocol,
          shards: o.shards,
          replicas: o.replicas,
          durationMs: o.duration * 1000,
          seed,
          clients: o.clients,
          window: o.window,
          keys: o.keys,
          rate: o.rate,
          opTimeoutMs: o.opTimeout,
          checkTimeoutMs: o.checkTimeout * 1000,
          ...(o.history === undefined ? {} : { historyFile: o.history }),
          ...(o.logDir === undefined ? {} : { logDir: o.logDir }),
          log: (line) => process.stderr.write(`[torture] ${line}\n`),
          signal: controller.signal,
        });
      } catch (err) {
        const reason = controller.signal.aborted ? (controller.signal.reason as Error) : (err as Error);
        operatorError(`torture (seed ${seed}) stopped: ${reason.message}`);
      }
      for (const problem of result.problems) process.stderr.write(`mdlin: torture: ${problem}\n`);
      if (result.verdict === 'unknown') process.stderr.write(`mdlin: torture: ${result.report.join(' ')}\n`);
      const report = result.verdict === 'violation' ? result.report.map((line) => `${line}\n`).join('') : '';
      process.stderr.write(
        `[torture] seed ${seed}: ${result.ops} operations, ${result.faults} faults, verdict ${result.verdict} ` +
          `(checked in ${(result.checkMs / 1000).toFixed(1)} s), ${result.converged ? 'converged' : 'NOT converged'}\n`,
      );
      await writeOut(`${report}${resultJson(result)}\n`);
      const passed = result.verdict === 'ok' && result.converged && result.problems.length === 0;
      process.exit(passed ? 0 : EXIT_FAILURE);
    });
}
