/**
 * `mdlin master` and `mdlin replica`: long-running servers in the foreground. Each prints one
 * line on stdout once it listens (`master HOST:PORT`, `replica r0.1 HOST:PORT`; scripts and
 * `mdlin cluster` read it), logs to stderr, and on SIGINT or SIGTERM closes cleanly and exits 0.
 */
import type { Command } from 'commander';
import type { ProtocolName } from '../protocol/master/messages.js';
import { startMaster, type RunningMaster } from '../master/server.js';
import { DataDirError } from '../runtime/datadir.js';
import { processLog } from '../runtime/log.js';
import { REPLICA_PROTOCOLS } from '../runtime/protocols.js';
import type { RunningReplica } from '../runtime/replica.js';
import { WalCorruptError, WalFormatError, WalLockedError } from '../storage/wal.js';
import { CLUSTER_DEFAULT } from '../client/client.js';
import { TopologyFileError } from '../bench/delays.js';
import { delayMs, replicaDelays, type ReplicaDelayFlags } from './delays.js';
import { address, clusterId, integer, port, protocol } from './parse.js';
import { operatorError, untilSignal, writeOut } from './util.js';

export const MASTER_PORT_DEFAULT = 7000;

/** Errors an operator can fix (a bad data directory, a port in use): one line, not a stack. */
function isOperatorError(err: unknown): err is Error {
  return (
    err instanceof DataDirError ||
    err instanceof WalCorruptError ||
    err instanceof WalFormatError ||
    err instanceof WalLockedError ||
    (err instanceof Error && /^cannot listen on /.test(err.message)) ||
    (err instanceof Error && ['EACCES', 'EROFS', 'ENOTDIR', 'ENOSPC'].includes((err as NodeJS.ErrnoException).code ?? ''))
  );
}

export function addMasterCommand(program: Command): void {
  program
    .command('master')
    .description('run the metadata master (keeps no disk state)')
    .option('--port <port>', 'listen on this port (0: any free port)', port, MASTER_PORT_DEFAULT)
    .option('--host <host>', 'listen on this host', '127.0.0.1')
    .option('--shards <n>', 'shards in the cluster', integer(1, 1024), 1)
    .option('--replicas <n>', 'replicas per shard', integer(1, 255), 3)
    .option('--protocol <name>', 'replication protocol', protocol, 'paxos' as ProtocolName)
    .option('--cluster <id>', 'cluster id every process must name', clusterId, CLUSTER_DEFAULT)
    .option('--verbose', 'log connections and more')
    .action(async (o: { port: number; host: string; shards: number; replicas: number; protocol: ProtocolName; cluster: string; verbose?: true }) => {
      const log = processLog('[master]', o.verbose === true);
      let master: RunningMaster;
      try {
        master = await startMaster({
          cluster: o.cluster,
          protocol: o.protocol,
          shards: o.shards,
          replicasPerShard: o.replicas,
          host: o.host,
          port: o.port,
          log,
        });
      } catch (err) {
        if (isOperatorError(err)) operatorError(err.message);
        throw err;
      }
      await writeOut(`master ${master.address}\n`);
      const signal = await untilSignal();
      log.info(`${signal}: stopping`);
      await master.close();
      process.exit(0);
    });
}

interface ReplicaFlags extends ReplicaDelayFlags {
  master: string;
  shard: number;
  id: number;
  dataDir: string;
  port?: number;
  host: string;
  protocol: ProtocolName;
  cluster: string;
  fsync: boolean;
  thrifty?: true;
  replyAtCommit?: true;
  phases?: true;
  verbose?: true;
}

export function addReplicaCommand(program: Command): void {
  program
    .command('replica')
    .description('run one replica of a shard')
    .requiredOption('--master <host:port>', "the master's address", address)
    .requiredOption('--shard <n>', 'the shard this replica serves', integer(0))
    .requiredOption('--id <n>', 'the replica id within its shard (0..replicas-1)', integer(0, 254))
    .requiredOption('--data-dir <dir>', 'where the write-ahead log and metadata live')
    .option('--port <port>', 'listen on this port (default: the one this data dir used last, else any free port)', port)
    .option('--host <host>', 'listen on, and advertise, this host', '127.0.0.1')
    .option('--protocol <name>', 'replication protocol (must match the master)', protocol, 'paxos' as ProtocolName)
    .option('--cluster <id>', 'cluster id (must match the master)', clusterId, CLUSTER_DEFAULT)
    .option('--no-fsync', 'do not fsync the log (fast, but a machine crash can lose acknowledged writes)')
    .option('--thrifty', 'send each Accept to a bare quorum of followers')
    .option('--reply-at-commit', 'acknowledge put and append once chosen, before they execute')
    .option('--phases', 'MDL: time each operation\'s phases (pending, committed, coordinated, ordered) for `mdlin bench`')
    .option('--delay-client-ms <ms>', 'injected one-way delay on what this replica sends to clients', delayMs)
    .option('--delay-shard-ms <ms>', 'injected one-way delay on what it sends to other shards (leader↔leader)', delayMs)
    .option('--delay-replica-ms <ms>', 'injected one-way delay on what it sends within its shard (leader↔replica)', delayMs)
    .option('--topology <file>', 'injected per-pair delays from a JSON file (see docs/bench.md); --delay-* flags override its classes')
    .option('--verbose', 'log more (registration, recovery, connections)')
    .action(async (o: ReplicaFlags) => {
      const name = `r${o.shard}.${o.id}`;
      const log = processLog(`[${name}]`, o.verbose === true);
      const start = REPLICA_PROTOCOLS[o.protocol];
      if (start === undefined) operatorError(`this build cannot run ${o.protocol} replicas`);
      if (!o.fsync) log.info('WARNING: --no-fsync: the log is not synced to disk; a machine crash can lose acknowledged writes');
      let delays: ReturnType<typeof replicaDelays>;
      try {
        delays = replicaDelays(o, o.shard, o.id);
      } catch (err) {
        if (err instanceof TopologyFileError) operatorError(`${name}: ${err.message}`);
        throw err;
      }
      let stopping = false;
      let replica: RunningReplica | undefined;
      try {
        replica = await start({
          master: o.master,
          cluster: o.cluster,
          shard: o.shard,
          replica: o.id,
          dataDir: o.dataDir,
          host: o.host,
          ...(o.port === undefined ? {} : { port: o.port }),
          fsync: o.fsync,
          thrifty: o.thrifty === true,
          replyAtCommit: o.replyAtCommit === true,
          observePhases: o.phases === true,
          ...(delays ?? {}),
          log,
          onFatal: (err) => {
            if (stopping) return;
            stopping = true;
            process.stderr.write(`mdlin: ${name}: ${err.message}\n`);
            void (replica?.close() ?? Promise.resolve()).finally(() => process.exit(1));
          },
        });
      } catch (err) {
        if (isOperatorError(err)) operatorError(`${name}: ${err.message}`);
        throw err;
      }
      await writeOut(`replica ${name} ${replica.address}\n`);
      const signal = await untilSignal();
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: stopping`);
      await replica.close();
      process.exit(0);
    });
}
