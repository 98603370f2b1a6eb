/**
 * The write-ahead log: one file per replica in its data directory, holding the records of one
 * `MessageTable` (e.g. MP_RECORDS) in append order.
 *
 * File: an 8-byte header (`MDLWAL`, u16 BE format version), then records
 * `[u32 BE payload length][u32 BE crc32 of payload][payload]`, where the payload is the codec's
 * `[code, body]` msgpack, checked against the table's schema on replay like any frame.
 *
 * Durability: `append` only buffers; `sync` writes everything appended so far and fdatasyncs
 * it. Concurrent `sync` callers share one write and one fdatasync (group commit), and a sync
 * resolves only when every record appended before it is durable. Recovery truncates a torn
 * tail (what a crash in the middle of the last write leaves) and refuses to guess about
 * corruption anywhere else. A failed write or fdatasync is final: the log refuses further
 * work, because after a failed fsync the kernel may have dropped the data it said it had.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { assert } from '../protocol/common/assert.js';
import type { MessageTable, MessagesOf } from '../protocol/common/schema.js';
import { MessageCodec, type Message } from '../transport/codec.js';
import { stderrLogger, type Logger } from '../transport/transport.js';

export const WAL_MAGIC = 'MDLWAL';
/** 2: an accept record is the Accept message (its code and fields). Version 1 logs are refused. */
export const WAL_FORMAT_VERSION = 2;
export const WAL_HEADER_BYTES = 8;
/** u32 length + u32 crc32. */
export const WAL_RECORD_HEADER_BYTES = 8;
export const WAL_FILE_NAME = 'wal.log';
export const WAL_LOCK_FILE_NAME = 'LOCK';
export const RECORD_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** A record that is damaged and followed by more data: not a torn tail, so not ours to drop. */
export class WalCorruptError extends Error {
  override readonly name = 'WalCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    problem: string,
  ) {
    super(`write-ahead log ${file} is corrupt at byte ${offset}: ${problem}`);
  }
}

/** The file is not a log of this format (wrong magic or version). */
export class WalFormatError extends Error {
  override readonly name = 'WalFormatError';
}

/** Another live process (or another open log in this one) uses the data directory. */
export class WalLockedError extends Error {
  override readonly name = 'WalLockedError';
}

export interface WalOptions {
  /** false: `sync` writes but does not fdatasync (benchmarks, tests, throwaway clusters). */
  readonly fsync?: boolean;
  readonly recordBytesMax?: number;
  readonly log?: Logger;
}

export interface OpenedWal<M extends Message> {
  readonly wal: Wal<M>;
  /** The valid records, in append order. */
  readonly records: M[];
}

function fileHeader(): Buffer {
  const header = Buffer.alloc(WAL_HEADER_BYTES);
  header.write(WAL_MAGIC, 0, 'latin1');
  header.writeUInt16BE(WAL_FORMAT_VERSION, 6);
  return header;
}

/** Opens (creating if needed) the log in `dir`, takes the directory lock and replays the log. */
export async function openWal<T extends MessageTable>(
  dir: string,
  table: T,
  opts: WalOptions = {},
): Promise<OpenedWal<MessagesOf<T>>> {
  const codec = MessageCodec.of(table);
  const log = opts.log ?? stderrLogger(`[wal ${dir}]`);
  const recordBytesMax = opts.recordBytesMax ?? RECORD_BYTES_MAX_DEFAULT;
  await fs.mkdir(dir, { recursive: true });
  const lock = await DirLock.acquire(dir, log);
  try {
    const file = path.join(dir, WAL_FILE_NAME);
    await fs.rm(`${file}.tmp`, { force: true });
    let contents: Buffer;
    try {
      contents = await fs.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await replaceAtomically(file, [fileHeader()], opts.fsync ?? true);
      contents = fileHeader();
    }
    const { records, validBytes } = replay(file, contents, codec, recordBytesMax);
    if (validBytes < contents.length) {
      log(`truncating a torn tail of ${contents.length - validBytes} bytes at byte ${validBytes} of ${file}`);
      await fs.truncate(file, validBytes);
    }
    const handle = await fs.open(file, fsConstants.O_WRONLY);
    if (validBytes < contents.length) await handle.sync();
    const wal = new Wal(codec, file, handle, validBytes, lock, opts.fsync ?? true, recordBytesMax);
    return { wal, records };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/**
 * Parses a whole log. A damaged record (incomplete, failing its checksum, or with an
 * impossible length) with no valid record anywhere after it is a torn tail, what a crash in
 * the middle of the last write leaves (possibly followed by zeros or garbage): it is cut off.
 * A damaged record with a valid one after it is corruption of data that was durable.
 */
function replay<M extends Message>(
  file: string,
  contents: Buffer,
  codec: MessageCodec<M>,
  recordBytesMax: number,
): { records: M[]; validBytes: number } {
  if (contents.length < WAL_HEADER_BYTES || contents.toString('latin1', 0, 6) !== WAL_MAGIC) {
    throw new WalFormatError(`${file} is not a mdlin write-ahead log (bad magic)`);
  }
  const version = contents.readUInt16BE(6);
  if (version !== WAL_FORMAT_VERSION) {
    throw new WalFormatError(`${file} has log format version ${version}; this build reads version ${WAL_FORMAT_VERSION}`);
  }
  const records: M[] = [];
  let offset = WAL_HEADER_BYTES;
  while (offset < contents.length) {
    const problem = recordProblem(contents, offset, recordBytesMax);
    if (problem !== null) {
      for (let later = offset + 1; later < contents.length; later++) {
        if (recordProblem(contents, later, recordBytesMax) === null) {
          throw new WalCorruptError(file, offset, `${problem}, with a valid record at byte ${later} after it`);
        }
      }
      return { records, validBytes: offset };
    }
    const start = offset + WAL_RECORD_HEADER_BYTES;
    const end = start + contents.readUInt32BE(offset);
    const decoded = codec.decodePayload(contents, start, end);
    if (!decoded.ok) throw new WalCorruptError(file, offset, `checksummed record does not decode: ${decoded.error.message}`);
    records.push(decoded.msg);
    offset = end;
  }
  return { records, validBytes: offset };
}

/** Why the bytes at `offset` are not an intact record, or null when they are. */
function recordProblem(contents: Buffer, offset: number, recordBytesMax: number): string | null {
  if (contents.length - offset < WAL_RECORD_HEADER_BYTES) return 'incomplete record header';
  const length = contents.readUInt32BE(offset);
  if (length === 0 || length > recordBytesMax) return `record length ${length} outside 1..${recordBytesMax}`;
  const start = offset + WAL_RECORD_HEADER_BYTES;
  if (start + length > contents.length) return 'incomplete record';
  return crc32(contents.subarray(start, start + length)) === contents.readUInt32BE(offset + 4) ? null : 'checksum mismatch';
}

/** Writes `buffers` to a temporary file, syncs it, renames it over `file` and syncs the directory. */
async function replaceAtomically(file: string, buffers: Buffer[], fsync: boolean): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await fs.open(tmp, 'w');
  try {
    await writeAll(handle, buffers, 0);
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
  if (fsync) await syncDirectory(path.dirname(file));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: fs.FileHandle, buffers: Buffer[], position: number): Promise<number> {
  const total = buffers.reduce((sum, b) => sum + b.length, 0);
  const { bytesWritten } = await handle.writev(buffers, position);
  if (bytesWritten < total) {
    const rest = Buffer.concat(buffers).subarray(bytesWritten);
    for (let done = 0; done < rest.length; ) {
      const { bytesWritten: n } = await handle.write(rest, done, rest.length - done, position + bytesWritten + done);
      done += n;
    }
  }
  return total;
}

/**
 * A pid file, created exclusively. A lock left by a process that no longer runs is taken
 * over (with a log line); a live owner, this process included, makes the open fail.
 */
class DirLock {
  private constructor(private readonly file: string) {}

  static async acquire(dir: string, log: Logger): Promise<DirLock> {
    const file = path.join(dir, WAL_LOCK_FILE_NAME);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx' });
        return new DirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isSafeInteger(owner) && owner > 0 && processRuns(owner)) {
        throw new WalLockedError(`data directory ${dir} is in use by process ${owner} (lock file ${file})`);
      }
      log(`removing stale lock ${file} (owner ${Number.isNaN(owner) ? 'unknown' : owner} is not running)`);
      await fs.rm(file, { force: true });
    }
    throw new WalLockedError(`data directory ${dir} is being locked by another process`);
  }

  release(): Promise<void> {
    return fs.rm(this.file, { force: true });
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Pending {
  readonly seq: number;
  readonly bytes: Buffer;
}

export class Wal<M extends Message> {
  /** Appended but not yet handed to a write, oldest first. */
  private pending: Pending[] = [];
  private appendedSeq = 0;
  private durableSeq = 0;
  /** Cutoffs of rewrites called and not yet done: a sync round never writes past one. */
  private readonly rewriteCutoffs: number[] = [];
  /** A sync round queued and not yet started, which later `sync` calls join. */
  private queuedRound: Promise<void> | null = null;
  /** File operations run one at a time, in call order. */
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;
  private rounds = 0;

  /** @internal use `openWal` */
  constructor(
    private readonly codec: MessageCodec<M>,
    readonly file: string,
    private handle: fs.FileHandle,
    private sizeBytes: number,
    private readonly lock: DirLock,
    readonly fsync: boolean,
    readonly recordBytesMax: number,
  ) {}

  /** Bytes in the log file, including what is written but not yet synced. */
  get bytes(): number {
    return this.sizeBytes;
  }

  /** Buffers `record`; it is durable once a later `sync()` resolves. */
  append(record: M): void {
    assert(!this.closed, 'append after close');
    this.pending.push({ seq: ++this.appendedSeq, bytes: this.encode(record) });
  }

  /** Resolves when every record appended before this call is durable (written, with fsync off). */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.durableSeq >= this.appendedSeq) return Promise.resolve();
    if (this.queuedRound === null) {
      this.queuedRound = this.serial(() => {
        this.queuedRound = null;
        return this.syncRound();
      });
    }
    return this.queuedRound;
  }

  /**
   * Atomically replaces the log with `records` (after a snapshot): they must stand for
   * everything appended before this call, which is dropped. Records appended afterwards
   * follow them. A crash leaves either the old log or the new one.
   */
  rewrite(records: readonly M[]): Promise<void> {
    assert(!this.closed, 'rewrite after close');
    const cutoff = this.appendedSeq;
    const buffers = [fileHeader(), ...records.map((record) => this.encode(record))];
    this.rewriteCutoffs.push(cutoff);
    this.queuedRound = null;
    return this.serial(async () => {
      try {
        await replaceAtomically(this.file, buffers, this.fsync);
        const old = this.handle;
        this.handle = await fs.open(this.file, fsConstants.O_WRONLY);
        await old.close();
        this.sizeBytes = buffers.reduce((sum, b) => sum + b.length, 0);
        this.pending = this.pending.filter((p) => p.seq > cutoff);
        this.durableSeq = Math.max(this.durableSeq, cutoff);
      } finally {
        this.rewriteCutoffs.shift();
      }
    });
  }

  /** Syncs what was appended, then closes the file and releases the directory lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.sync();
      await this.tail;
    } finally {
      this.closed = true;
      await this.handle.close();
      await this.lock.release();
    }
  }

  /** Sync rounds (writes, each with one fdatasync when fsync is on) so far: fewer than syncs under load. */
  get syncRounds(): number {
    return this.rounds;
  }

  /** `[length][crc32][payload]`, built in one buffer. */
  private encode(record: M): Buffer {
    const bytes = this.codec.encodePayload(record, WAL_RECORD_HEADER_BYTES);
    const length = bytes.length - WAL_RECORD_HEADER_BYTES;
    assert(length <= this.recordBytesMax, `${record.type} record of ${length} bytes exceeds recordBytesMax`);
    bytes.writeUInt32BE(length, 0);
    bytes.writeUInt32BE(crc32(bytes.subarray(WAL_RECORD_HEADER_BYTES)), 4);
    return bytes;
  }

  private async syncRound(): Promise<void> {
    const limit = this.rewriteCutoffs[0] ?? Infinity;
    let count = 0;
    while (count < this.pending.length && this.pending[count]!.seq <= limit) count++;
    if (count === 0) return;
    this.rounds++;
    const batch = this.pending.splice(0, count);
    const position = this.sizeBytes;
    const written = await writeAll(this.handle, batch.map((p) => p.bytes), position);
    this.sizeBytes = position + written;
    if (this.fsync) await this.handle.datasync();
    this.durableSeq = Math.max(this.durableSeq, batch[batch.length - 1]!.seq);
  }

  private serial(operation: () => Promise<void>): Promise<void> {
    const run = this.tail.then(() => {
      if (this.failure !== null) throw this.failure;
      return operation().catch((err: unknown) => {
        this.failure = err instanceof Error ? err : new Error(String(err));
        throw this.failure;
      });
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
