import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { MP_RECORDS, type MultiPaxosRecord } from '../../src/protocol/multipaxos/messages.js';
import {
  WAL_FILE_NAME,
  WAL_HEADER_BYTES,
  WAL_LOCK_FILE_NAME,
  WalCorruptError,
  WalFormatError,
  WalLockedError,
  openWal,
  type WalOptions,
} from '../../src/storage/wal.js';
import { sampleMessages } from '../transport/samples.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mdlin-wal-test-'));
  dirs.push(dir);
  return dir;
}

function open(dir: string, opts: WalOptions = {}): ReturnType<typeof openWal<typeof MP_RECORDS>> {
  return openWal(dir, MP_RECORDS, { log: () => undefined, ...opts });
}

function promise(ballot: number): MultiPaxosRecord {
  return { type: 'promise', ballot };
}

function accept(slot: number): MultiPaxosRecord {
  return {
    type: 'accept',
    ballot: 3,
    slot,
    value: [{ client: 'c', seq: slot, op: 'put', key: `k${slot}`, value: `v${slot}`, expect: null }],
    committedUpTo: slot,
  };
}

/** A closed log holding `records`; returns its directory, file, and the byte offset of each record. */
async function logWith(records: MultiPaxosRecord[]): Promise<{ dir: string; file: string; offsets: number[] }> {
  const dir = await freshDir();
  const { wal } = await open(dir);
  const offsets: number[] = [];
  for (const r of records) {
    offsets.push(wal.bytes);
    wal.append(r);
    await wal.sync();
  }
  await wal.close();
  return { dir, file: path.join(dir, WAL_FILE_NAME), offsets };
}

/** A new data directory whose log file holds `bytes`. */
async function dirWithLog(bytes: Buffer): Promise<string> {
  const dir = await freshDir();
  await writeFile(path.join(dir, WAL_FILE_NAME), bytes);
  return dir;
}

describe('wal', () => {
  for (const fsync of [true, false]) {
    describe(`fsync ${fsync ? 'on' : 'off'}`, () => {
      it('gives back every record kind it was given, in order, after reopening', async () => {
        const records = sampleMessages(MP_RECORDS).map((s) => s.msg as MultiPaxosRecord);
        const dir = await freshDir();
        const first = await open(dir, { fsync });
        assert.deepEqual(first.records, []);
        for (const r of records) first.wal.append(r);
        await first.wal.sync();
        await first.wal.close();
        const second = await open(dir, { fsync });
        assert.deepEqual(second.records, records);
        await second.wal.close();
      });

      it('a sync resolves once everything appended before it is in the file, and concurrent syncs share a round', async () => {
        const dir = await freshDir();
        const { wal } = await open(dir, { fsync });
        const syncs: Promise<void>[] = [];
        for (let i = 0; i < 100; i++) {
          wal.append(accept(i));
          syncs.push(wal.sync());
        }
        await Promise.all(syncs);
        assert.equal(wal.syncRounds, 1);
        assert.equal((await stat(wal.file)).size, wal.bytes);
        const early = wal.sync();
        wal.append(accept(100));
        const late = wal.sync();
        await early;
        await late;
        assert.equal(wal.syncRounds, 2);
        assert.equal((await stat(wal.file)).size, wal.bytes);
        await wal.close();
        const reopened = await open(dir, { fsync });
        assert.deepEqual(reopened.records, Array.from({ length: 101 }, (_, i) => accept(i)));
        await reopened.wal.close();
      });

      it('rewrite replaces everything appended before it; later appends follow', async () => {
        const dir = await freshDir();
        const { wal } = await open(dir, { fsync });
        wal.append(accept(0));
        const inFlight = wal.sync();
        wal.append(accept(1));
        const rewritten = wal.rewrite([promise(9), accept(1)]);
        wal.append(accept(2));
        await Promise.all([inFlight, rewritten, wal.sync()]);
        await wal.close();
        const reopened = await open(dir, { fsync });
        assert.deepEqual(reopened.records, [promise(9), accept(1), accept(2)]);
        await reopened.wal.close();
      });
    });
  }

  describe('recovery', () => {
    it('truncates a torn tail cut at every byte of the last record, and reopens cleanly', async () => {
      const records = [promise(1), accept(1), accept(2)];
      const { file, offsets } = await logWith(records);
      const whole = await readFile(file);
      const lastStart = offsets[2]!;
      for (let cut = lastStart + 1; cut < whole.length; cut++) {
        const dir = await dirWithLog(whole.subarray(0, cut));
        const logs: string[] = [];
        const first = await open(dir, { log: (l) => logs.push(l) });
        assert.deepEqual(first.records, records.slice(0, 2), `cut at ${cut}`);
        assert.match(logs.join('\n'), new RegExp(`truncating a torn tail of ${cut - lastStart} bytes at byte ${lastStart}`));
        first.wal.append(accept(3));
        await first.wal.close();
        const second = await open(dir);
        assert.deepEqual(second.records, [...records.slice(0, 2), accept(3)]);
        await second.wal.close();
        await rm(dir, { recursive: true });
      }
    });

    it('truncates a final record that fails its checksum, and a tail of zeros', async () => {
      const records = [promise(1), accept(1)];
      const { file, offsets } = await logWith(records);
      const whole = await readFile(file);
      const flipped = Buffer.from(whole);
      flipped[whole.length - 2]! ^= 0xff;
      const withZeros = Buffer.concat([whole.subarray(0, offsets[1]! + 5), Buffer.alloc(4096)]);
      for (const bytes of [flipped, withZeros]) {
        const dir = await dirWithLog(bytes);
        const { records: got, wal } = await open(dir);
        assert.deepEqual(got, records.slice(0, 1));
        assert.equal((await stat(wal.file)).size, offsets[1]);
        await wal.close();
      }
    });

    it('refuses corruption in the middle, naming the file and the byte offset', async () => {
      const { file, offsets } = await logWith([promise(1), accept(1), accept(2)]);
      const bytes = await readFile(file);
      bytes[offsets[1]! + 12]! ^= 0x01;
      const dir = await dirWithLog(bytes);
      const corruptFile = path.join(dir, WAL_FILE_NAME);
      await assert.rejects(open(dir), (err: unknown) => {
        assert.ok(err instanceof WalCorruptError);
        assert.equal(err.file, corruptFile);
        assert.equal(err.offset, offsets[1]);
        assert.ok(err.message.includes(corruptFile) && err.message.includes(`at byte ${offsets[1]}`), err.message);
        return true;
      });
      assert.deepEqual(await readFile(corruptFile), bytes, 'a corrupt log is left as it was');
      await assert.rejects(open(dir), WalCorruptError, 'the failed open released the lock');
    });

    it('refuses a file with the wrong magic or format version', async () => {
      const { file } = await logWith([promise(1)]);
      const good = await readFile(file);
      const badMagic = Buffer.from(good);
      badMagic.write('NOTWAL', 0, 'latin1');
      const badVersion = Buffer.from(good);
      badVersion.writeUInt16BE(99, 6);
      await assert.rejects(open(await dirWithLog(badMagic)), WalFormatError);
      await assert.rejects(open(await dirWithLog(badVersion)), /format version 99/);
      await assert.rejects(open(await dirWithLog(Buffer.from('MD'))), WalFormatError);
    });

    it('ignores the temporary file of a rewrite interrupted before its rename', async () => {
      const { dir, file } = await logWith([promise(1), accept(1)]);
      await writeFile(`${file}.tmp`, Buffer.alloc(WAL_HEADER_BYTES + 3, 7));
      const { records, wal } = await open(dir);
      assert.deepEqual(records, [promise(1), accept(1)]);
      await wal.close();
    });
  });

  describe('directory lock', () => {
    it('prevents a second open of the same data directory until the first is closed', async () => {
      const dir = await freshDir();
      const first = await open(dir);
      await assert.rejects(open(dir), (err: unknown) => {
        assert.ok(err instanceof WalLockedError);
        assert.match(err.message, new RegExp(`in use by process ${process.pid}`));
        return true;
      });
      await first.wal.close();
      const second = await open(dir);
      await second.wal.close();
    });

    it('takes over a lock left by a process that is gone', async () => {
      const dir = await freshDir();
      const gone = spawnSync(process.execPath, ['-e', '']).pid;
      assert.ok(gone !== undefined);
      await writeFile(path.join(dir, WAL_LOCK_FILE_NAME), `${gone}\n`);
      const logs: string[] = [];
      const { wal } = await open(dir, { log: (l) => logs.push(l) });
      assert.match(logs.join('\n'), /removing stale lock/);
      await wal.close();
    });
  });
});
