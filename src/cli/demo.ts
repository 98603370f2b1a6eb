/**
 * `mdlin demo` (what `npm start` runs): a local 3-replica cluster in child processes, a short
 * workload from several single-dispatch clients with a live progress line on stderr, then the
 * throughput and latency percentiles, and a clean shutdown.
 */
import type { Command } from 'commander';
import { connect, type KvClient } from '../client/client.js';
import { processLog } from '../runtime/log.js';
import { LocalCluster } from './cluster.js';
import { integer } from './parse.js';
import { operatorError, writeOut } from './util.js';

const KEYS = 100;
const PROGRESS_MS = 250;

interface DemoFlags {
  seconds: number;
  clients: number;
}

/** The value at fraction `q` of sorted `values` (nearest rank). */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** One client's loop: half puts, half gets, on a small key space, until the deadline. */
async function runClient(kv: KvClient, id: number, deadline: number, latencies: number[]): Promise<void> {
  for (let i = 0; performance.now() < deadline; i++) {
    const key = `key-${(i * 7919 + id * 104729) % KEYS}`;
    const start = performance.now();
    if (i % 2 === 0) await kv.put(key, `c${id}-${i}`);
    else await kv.get(key);
    latencies.push(performance.now() - start);
  }
}

export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start a local 3-replica cluster, run a short workload, print throughput and latency, and stop')
    .option('--seconds <s>', 'how long the workload runs', integer(1, 3600), 5)
    .option('--clients <n>', 'concurrent single-dispatch clients', integer(1, 1000), 8)
    .action(async (o: DemoFlags) => {
      const log = processLog('[demo]', false);
      process.stderr.write('starting a cluster of 3 replicas and a master...\n');
      const cluster = new LocalCluster({
        shards: 1,
        replicas: 3,
        protocol: 'paxos',
        cluster: 'mdlin-demo',
        masterPort: 0,
        fsync: true,
        log,
        onGiveUp: (reason) => operatorError(`the demo cluster failed: ${reason}`),
      });
      try {
        await cluster.start();
      } catch (err) {
        operatorError(`cannot start the demo cluster: ${(err as Error).message}`);
      }
      const clients = await Promise.all(
        Array.from({ length: o.clients }, () => connect({ master: cluster.masterAddress, cluster: 'mdlin-demo' })),
      );
      process.stderr.write(`master ${cluster.masterAddress}; ${o.clients} clients for ${o.seconds} s\n`);
      const latencies: number[] = [];
      const startMs = performance.now();
      const deadline = startMs + o.seconds * 1000;
      const progress = setInterval(() => {
        const elapsed = (performance.now() - startMs) / 1000;
        const line = `  ${latencies.length} ops  ${Math.round(latencies.length / elapsed)} ops/s`;
        process.stderr.write(process.stderr.isTTY ? `\r${line}   ` : `${line}\n`);
      }, PROGRESS_MS);
      try {
        await Promise.all(clients.map((kv, id) => runClient(kv, id, deadline, latencies)));
      } finally {
        clearInterval(progress);
        if (process.stderr.isTTY) process.stderr.write('\n');
        await Promise.all(clients.map((kv) => kv.close()));
        await cluster.stop();
      }
      const seconds = (performance.now() - startMs) / 1000;
      latencies.sort((a, b) => a - b);
      await writeOut(
        `${latencies.length} operations in ${seconds.toFixed(1)} s: ${Math.round(latencies.length / seconds)} ops/s, ` +
          `latency p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms\n`,
      );
    });
}
