/**
 * `mdlin kv` (one operation through the client library) and `mdlin status` (the master's view
 * of the cluster). `kv` exits 0 when the operation succeeded, 1 when it definitely did not take
 * effect (or the master was unreachable), 2 when its outcome is unknown.
 */
import type { Command } from 'commander';
import { CLUSTER_DEFAULT, connect, type KvClient } from '../client/client.js';
import { OperationFailedError, OutcomeUnknownError } from '../client/errors.js';
import { fetchMap } from '../client/master.js';
import type { ShardMap } from '../protocol/master/messages.js';
import { address, clusterId, integer } from './parse.js';
import { EXIT_FAILURE, EXIT_USAGE, operatorError, writeOut } from './util.js';

type KvFlags = {
  master: string;
  cluster: string;
  json?: true;
  history?: string;
  timeout?: number;
};

/** The parsed operation, and how its result is printed. */
type KvOp =
  | { op: 'get'; key: string }
  | { op: 'put' | 'append'; key: string; value: string }
  | { op: 'cas'; key: string; expected: string | null; value: string };

async function runKv(flags: KvFlags, op: KvOp): Promise<void> {
  let kv: KvClient;
  try {
    kv = await connect({
      master: flags.master,
      cluster: flags.cluster,
      ...(flags.timeout === undefined ? {} : { timeoutMs: flags.timeout }),
      ...(flags.history === undefined ? {} : { history: flags.history }),
      log: () => undefined,
    });
  } catch (err) {
    return finish(flags, EXIT_FAILURE, { error: (err as Error).message, status: 'fail' });
  }
  try {
    switch (op.op) {
      case 'get': {
        const value = await kv.get(op.key);
        return await finish(flags, 0, { value }, value ?? undefined);
      }
      case 'put':
        await kv.put(op.key, op.value);
        return await finish(flags, 0, { ok: true });
      case 'append':
        await kv.append(op.key, op.value);
        return await finish(flags, 0, { ok: true });
      case 'cas': {
        const swapped = await kv.cas(op.key, op.expected, op.value);
        return await finish(flags, 0, { swapped }, String(swapped));
      }
    }
  } catch (err) {
    if (err instanceof OutcomeUnknownError) return await finish(flags, EXIT_USAGE, { error: err.message, status: 'unknown' });
    if (err instanceof OperationFailedError) return await finish(flags, EXIT_FAILURE, { error: err.message, status: 'fail' });
    throw err;
  } finally {
    await kv.close();
  }
}

/** Prints the result (JSON with --json, else `text` when given) or the error, and sets the exit code. */
async function finish(flags: KvFlags, code: number, json: Record<string, unknown>, text?: string): Promise<void> {
  if (typeof json['error'] === 'string') process.stderr.write(`mdlin: ${json['error']}\n`);
  if (flags.json === true) await writeOut(`${JSON.stringify(json)}\n`);
  else if (text !== undefined) await writeOut(`${text}\n`);
  process.exitCode = code;
}

export function addKvCommand(program: Command): void {
  const kv = program
    .command('kv')
    .description('run one operation: get K | put K V | cas K EXPECTED V | cas K V --expect-absent | append K V')
    .requiredOption('--master <host:port>', "the master's address", address)
    .option('--cluster <id>', 'cluster id', clusterId, CLUSTER_DEFAULT)
    .option('--json', 'print the result as JSON: {"value": ...}, {"ok": true}, {"swapped": ...}')
    .option('--history <file>', 'append the operation to this history file')
    .option('--timeout <ms>', 'give up after this long (outcome unknown)', integer(20))
    .addHelpText('after', '\nExit status: 0 success, 1 definitely failed, 2 outcome unknown (or a usage error).')
    .action(() => operatorError('kv needs an operation: get K | put K V | cas K EXPECTED V | append K V', EXIT_USAGE));
  const flags = (cmd: Command): KvFlags => cmd.optsWithGlobals<KvFlags>();
  kv.command('get <key>')
    .description('print the value (nothing when absent)')
    .action((key: string, _o: unknown, cmd: Command) => runKv(flags(cmd), { op: 'get', key }));
  kv.command('put <key> <value>')
    .description('set the value')
    .action((key: string, value: string, _o: unknown, cmd: Command) => runKv(flags(cmd), { op: 'put', key, value }));
  kv.command('append <key> <value>')
    .description('append to the value ("" when absent)')
    .action((key: string, value: string, _o: unknown, cmd: Command) => runKv(flags(cmd), { op: 'append', key, value }));
  kv.command('cas <key> <values...>')
    .usage('<key> <expected> <value> | <key> <value> --expect-absent')
    .description('set to VALUE if the key holds EXPECTED (or is absent, with --expect-absent); prints true or false')
    .option('--expect-absent', 'swap only if the key is absent (then give only VALUE)')
    .action((key: string, values: string[], o: { expectAbsent?: true }, cmd: Command) => {
      const absent = o.expectAbsent === true;
      if (values.length !== (absent ? 1 : 2)) {
        operatorError(absent ? 'cas --expect-absent takes KEY VALUE' : 'cas takes KEY EXPECTED VALUE (or KEY VALUE --expect-absent)', EXIT_USAGE);
      }
      const [first, second] = values as [string, string | undefined];
      return runKv(flags(cmd), { op: 'cas', key, expected: absent ? null : first, value: second ?? first });
    });
}

interface StatusFlags {
  master: string;
  cluster: string;
  json?: true;
}

/** The JSON `mdlin status --json` prints: one entry per shard, each with its replicas. */
function statusJson(map: ShardMap): object {
  return {
    cluster: map.cluster,
    protocol: map.protocol,
    version: map.version,
    shards: Array.from({ length: map.shards }, (_, id) => {
      const leader = map.leaders.find((l) => l.shard === id);
      return {
        id,
        leader: leader?.leader ?? -1,
        ballot: leader?.ballot ?? 0,
        replicas: map.replicas
          .filter((r) => r.shard === id)
          .map((r) => ({ id: r.replica, address: r.address, role: r.role, pid: r.pid, ballot: r.ballot, heardMsAgo: r.heardMsAgo })),
      };
    }),
  };
}

function statusText(map: ShardMap): string {
  const lines = [`cluster ${map.cluster}  protocol ${map.protocol}  ${map.shards} shards of ${map.replicasPerShard} replicas  map version ${map.version}`];
  for (let shard = 0; shard < map.shards; shard++) {
    const leader = map.leaders.find((l) => l.shard === shard);
    lines.push(
      leader !== undefined && leader.leader >= 0
        ? `shard ${shard}  leader r${shard}.${leader.leader} (ballot ${leader.ballot})`
        : `shard ${shard}  no leader`,
    );
    for (const r of map.replicas.filter((x) => x.shard === shard)) {
      const heard = r.heardMsAgo < 0 ? 'never heard' : `heard ${r.heardMsAgo} ms ago`;
      lines.push(`  r${r.shard}.${r.replica}  ${r.address.padEnd(21)}  ${r.role.padEnd(9)}  pid ${String(r.pid).padEnd(7)}  ${heard}`);
    }
    const missing = map.replicasPerShard - map.replicas.filter((x) => x.shard === shard).length;
    if (missing > 0) lines.push(`  (${missing} replica${missing === 1 ? '' : 's'} never registered)`);
  }
  return `${lines.join('\n')}\n`;
}

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description("show the master's view: every shard with its leader, every replica with its address, role, pid and last heartbeat")
    .requiredOption('--master <host:port>', "the master's address", address)
    .option('--cluster <id>', 'cluster id', clusterId, CLUSTER_DEFAULT)
    .option('--json', 'print JSON: {"shards":[{"id":0,"leader":0,"replicas":[{"id":0,"address":...,"role":...,"pid":...}]}]}')
    .action(async (o: StatusFlags) => {
      let map: ShardMap;
      try {
        map = await fetchMap(o.master, o.cluster, 5000, () => undefined);
      } catch (err) {
        operatorError((err as Error).message);
      }
      await writeOut(o.json === true ? `${JSON.stringify(statusJson(map))}\n` : statusText(map));
    });
}
