/**
 * End-to-end helpers: run the real `mdlin` CLI (the compiled dist/src/cli/main.js next to these
 * tests) as child processes on 127.0.0.1, read what they print, and stop them by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchMap } from '../../src/client/master.js';
import { CLIENT_WIRE } from '../../src/client/wire.js';
import { replicaAddr } from '../../src/protocol/common/core.js';
import type { ShardMap } from '../../src/protocol/master/messages.js';
import { ClientConnection } from '../../src/transport/client.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A running `mdlin` process with everything it printed so far. */
export class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('the process did not start');
    return pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first match of `pattern` in stdout (its first group, or the whole match). */
  line(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return waitFor(
      () => {
        const match = pattern.exec(this.stdout);
        if (match === null && !this.running) throw new Error(`exited without printing ${pattern}; stderr:\n${this.stderr}`);
        return match === null ? null : (match[1] ?? match[0]);
      },
      `output matching ${pattern}`,
      timeoutMs,
    );
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

/** Runs one `mdlin` command to completion. */
export async function run(args: readonly string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = new Proc(args);
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout, stderr: p.stderr };
}

/** Polls `probe` until it returns something other than null, and returns that. */
export async function waitFor<T>(probe: () => T | null | Promise<T | null>, what: string, timeoutMs = 20_000): Promise<T> {
  const start = performance.now();
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mdlin-${prefix}-`));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function currentMap(master: string, cluster: string): Promise<ShardMap | null> {
  try {
    return await fetchMap(master, cluster, 2000, () => undefined);
  } catch {
    return null;
  }
}

/** Waits until the master names a leader for every shard (for shard `not.shard`, not `not.replica`), and returns the map. */
export function waitForLeaders(
  master: string,
  cluster: string,
  not: { shard: number; replica: number } | null = null,
  timeoutMs = 20_000,
): Promise<ShardMap> {
  return waitFor(
    async () => {
      const map = await currentMap(master, cluster);
      const ok = map !== null && map.leaders.every((l) => l.leader >= 0 && !(l.shard === not?.shard && l.leader === not.replica));
      return ok ? map : null;
    },
    'a leader in every shard',
    timeoutMs,
  );
}

export interface Digest {
  executed: number;
  keys: number;
  hash: string;
}

/**
 * Sends admin messages to one replica and waits for the digest of its executed state, which
 * also says the messages before it (on the same connection) were handled.
 */
export async function admin(
  address: string,
  cluster: string,
  shard: number,
  replica: number,
  controls: readonly { action: 'block' | 'unblock'; shard: number; replica: number }[] = [],
  timeoutMs = 5000,
): Promise<Digest> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void conn.close();
      reject(new Error(`no digest from r${shard}.${replica}`));
    }, timeoutMs);
    const conn = new ClientConnection({
      client: `admin-${process.pid}`,
      cluster,
      table: CLIENT_WIRE,
      server: replicaAddr(shard, replica),
      address,
      log: () => undefined,
      onMessage: (msg) => {
        if (msg.type !== 'digest') return;
        clearTimeout(timer);
        void conn.close();
        resolve({ executed: msg.executed, keys: msg.keys, hash: msg.hash });
      },
    });
    for (const c of controls) conn.send({ type: 'control', ...c });
    conn.send({ type: 'digestRequest' });
  });
}

/** The digest of one replica's executed state (an admin message). */
export function digest(address: string, cluster: string, shard: number, replica: number): Promise<Digest> {
  return admin(address, cluster, shard, replica);
}
