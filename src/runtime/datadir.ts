/**
 * What a replica keeps in its data directory besides the write-ahead log: a small JSON file
 * naming the cluster, protocol, shard and replica the directory belongs to, the port it last
 * listened on, and the last shard map it learned (with every replica's address). With it a
 * restarted replica finds its peers, and they find it at the same port, while the master is down;
 * and a directory can never be reused by another replica, shard or cluster by mistake.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkSchema } from '../protocol/common/schema.js';
import { PROTOCOL_NAMES, SHARD_MAP_SCHEMA, type ProtocolName, type ShardMap } from '../protocol/master/messages.js';

export const META_FILE_NAME = 'replica.json';
export const META_FORMAT = 1;

export interface ReplicaIdentity {
  readonly cluster: string;
  readonly protocol: ProtocolName;
  readonly shard: number;
  readonly replica: number;
}

export interface ReplicaMeta extends ReplicaIdentity {
  readonly format: number;
  /** The port the replica last listened on (0: none yet). */
  readonly port: number;
  readonly map: ShardMap | null;
}

const META_SCHEMA = {
  format: 'nat',
  cluster: 'str',
  protocol: { enum: PROTOCOL_NAMES },
  shard: 'nat',
  replica: 'nat',
  port: 'nat',
  map: { nullable: { obj: SHARD_MAP_SCHEMA } },
} as const;

/** The data directory is unusable for this replica; the message says why, in one line. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

/** The directory's metadata, or null when it has none yet (a new replica). */
export async function readMeta(dir: string): Promise<ReplicaMeta | null> {
  const file = path.join(dir, META_FILE_NAME);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataDirError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DataDirError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const problem = checkSchema(META_SCHEMA, value, '');
  if (problem !== null) throw new DataDirError(`${file} is not replica metadata: ${problem}`);
  const meta = value as ReplicaMeta;
  if (meta.format !== META_FORMAT) throw new DataDirError(`${file} has format ${meta.format}; this build reads format ${META_FORMAT}`);
  return meta;
}

/** Why `meta` (found in `dir`) does not belong to the replica `self`, or null when it does. */
export function identityProblem(dir: string, meta: ReplicaIdentity, self: ReplicaIdentity): string | null {
  const owner = `cluster ${JSON.stringify(meta.cluster)} ${meta.protocol} shard ${meta.shard} replica ${meta.replica}`;
  const fields: (keyof ReplicaIdentity)[] = ['cluster', 'protocol', 'shard', 'replica'];
  const wrong = fields.filter((f) => meta[f] !== self[f]);
  if (wrong.length === 0) return null;
  return `data directory ${dir} belongs to ${owner}, not to this replica (${wrong.map((f) => `${f} ${JSON.stringify(self[f])}`).join(', ')})`;
}

/** Replaces the metadata atomically (a crash leaves the old file or the new one). */
export async function writeMeta(dir: string, meta: ReplicaMeta): Promise<void> {
  const file = path.join(dir, META_FILE_NAME);
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(meta, null, 2)}\n`);
  await fs.rename(tmp, file);
}
