/**
 * `mdlin torture` end to end: bounded, seeded runs against real processes. Each run must find
 * its history ok and its replicas converged after injecting faults, and leave no process and no
 * temporary directory behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { historyCounts } from '../../src/check/checker.js';
import { parseHistory } from '../../src/check/history.js';
import { run, tempDir } from '../e2e/helpers.js';

const RUN_TIMEOUT_MS = 90_000;
const JSON_KEYS = ['ok', 'fail', 'unknown', 'faults', 'verdict', 'converged'];

interface Summary {
  ok: number;
  fail: number;
  unknown: number;
  faults: number;
  verdict: string;
  converged: boolean;
}

/**
 * Pids of running processes started with a path under `dir` or holding a file there open (every
 * child of a run does one or the other: replicas name their data directories, and all of them
 * write their stderr to a log there). Linux only; elsewhere none.
 */
function processesUsing(dir: string): number[] {
  if (!fs.existsSync('/proc/self/fd')) return [];
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fds = fs.readdirSync(`/proc/${entry}/fd`).map((fd) => fs.readlinkSync(`/proc/${entry}/fd/${fd}`));
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir) || fds.some((f) => f.startsWith(dir))) pids.push(Number(entry));
    } catch {
      // It exited while we looked, or it is not ours to inspect.
    }
  }
  return pids;
}

/** Runs `mdlin torture args`; returns its exit code, its last line parsed, and the temporary directory it named. */
async function torture(args: readonly string[]): Promise<{ code: number | null; summary: Summary; stdout: string; stderr: string; workDir: string }> {
  const r = await run(['torture', ...args], RUN_TIMEOUT_MS);
  const lines = r.stdout.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  let summary: Summary;
  try {
    summary = JSON.parse(last) as Summary;
  } catch {
    throw new Error(`the last line is not JSON: ${JSON.stringify(last)}; stderr:\n${r.stderr}`);
  }
  const workDir = /working in (\S+) /.exec(r.stderr)?.[1];
  assert.ok(workDir !== undefined, `no working directory named on stderr:\n${r.stderr}`);
  return { ...r, summary, workDir };
}

/** The run removed its directory and left no process that was started with a path inside it. */
function assertCleanedUp(workDir: string): void {
  assert.ok(!fs.existsSync(workDir), `${workDir} was left behind`);
  assert.deepEqual(processesUsing(workDir), [], `processes of ${workDir} were left running`);
}

describe('torture › mdlin torture', () => {
  const dir = tempDir('torture-test');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a 3-replica Multi-Paxos shard under faults: history linearizable, replicas converged', { timeout: RUN_TIMEOUT_MS }, async () => {
    const history = path.join(dir, 'paxos.jsonl');
    const r = await torture(['--protocol', 'paxos', '--shards', '1', '--replicas', '3', '--duration', '8', '--seed', '11', '--clients', '3', '--rate', '400', '--history', history]);
    const what = `exit ${r.code}, stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    assert.deepEqual(Object.keys(r.summary), JSON_KEYS, what);
    assert.equal(r.summary.verdict, 'ok', what);
    assert.equal(r.summary.converged, true, what);
    assert.ok(r.summary.faults > 0, what);
    assert.ok(r.summary.ok > 0, what);
    assert.equal(r.code, 0, what);
    assert.match(r.stderr, /ok=\d+ fail=\d+ unknown=\d+ faults=\d+ down=/, 'progress lines on stderr');
    const ops = parseHistory(fs.readFileSync(history, 'utf8'));
    const counts = historyCounts(ops);
    assert.deepEqual([counts.ok, counts.fail, counts.unknown], [r.summary.ok, r.summary.fail, r.summary.unknown], 'the counts are the history file’s');
    assertCleanedUp(r.workDir);
  });

  it('two 3-replica MDL shards under faults, multi-dispatch clients: history mdl, replicas converged', { timeout: RUN_TIMEOUT_MS }, async () => {
    const r = await torture(['--protocol', 'mdl', '--shards', '2', '--replicas', '3', '--duration', '8', '--seed', '12', '--clients', '3', '--window', '4', '--rate', '150']);
    const what = `exit ${r.code}, stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    assert.deepEqual(Object.keys(r.summary), JSON_KEYS, what);
    assert.equal(r.summary.verdict, 'ok', what);
    assert.equal(r.summary.converged, true, what);
    assert.ok(r.summary.faults > 0, what);
    assert.ok(r.summary.ok > 0, what);
    assert.equal(r.code, 0, what);
    assertCleanedUp(r.workDir);
  });

  it('a usage error gets one line and exit 2, and starts nothing', async () => {
    const cases = [
      ['--replicas', '2'],
      ['--protocol', 'raft'],
      ['--duration', '0'],
      ['--protocol', 'paxos', '--window', '4'],
    ];
    const results = await Promise.all(cases.map((args) => run(['torture', ...args])));
    results.forEach((r, i) => {
      const what = `mdlin torture ${cases[i]?.join(' ')}: stderr ${JSON.stringify(r.stderr)}`;
      assert.equal(r.code, 2, what);
      assert.equal(r.stdout, '', what);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, what);
      assert.doesNotMatch(r.stderr, /working in/, what);
    });
  });
});
