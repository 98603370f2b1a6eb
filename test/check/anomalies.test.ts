/**
 * Each classic anomaly, judged under both models, and valid histories that must pass. Where the
 * models differ (PROTOCOLS.md §2: MDL is not local), the test says why.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { simulateHistory } from '../../src/bench/check.js';
import { checkHistory, type CheckResult, type Model } from '../../src/check/checker.js';
import type { HistoryOp } from '../../src/check/history.js';
import { witnessProblem } from '../../src/check/witness.js';
import { append, bruteForce, cas, get, put } from './ops.js';

function check(ops: HistoryOp[], model: Model): CheckResult {
  return checkHistory(ops, { model, timeoutMs: 10_000 });
}

/** Asserts the verdict under each model; for ok, that the witness replays. */
function expectVerdicts(ops: HistoryOp[], linearizable: CheckResult['verdict'], mdl: CheckResult['verdict']): Record<Model, CheckResult> {
  const results = { linearizable: check(ops, 'linearizable'), mdl: check(ops, 'mdl') };
  for (const [model, expected] of [
    ['linearizable', linearizable],
    ['mdl', mdl],
  ] as const) {
    const result = results[model];
    assert.equal(result.verdict, expected, `${model}: ${JSON.stringify(result)}`);
    if (result.verdict === 'ok') assert.equal(witnessProblem(ops, model, result.witness), null);
  }
  return results;
}

function involvedText(result: CheckResult, ops: HistoryOp[]): string[] {
  assert.equal(result.verdict, 'violation');
  return result.report.involved.map((i) => `${ops[i]?.client}#${ops[i]?.seq}`);
}

describe('check', () => {
  describe('anomalies', () => {
    it('a stale read violates both models', () => {
      const ops = [put('a', 0, 'x', '1', [0, 10]), put('b', 0, 'x', '2', [20, 30]), get('c', 0, 'x', '1', [40, 50])];
      const r = expectVerdicts(ops, 'violation', 'violation');
      assert.deepEqual(involvedText(r.mdl, ops).sort(), ['a#0', 'b#0', 'c#0']);
    });

    it('a lost write (an append nobody sees) violates both models', () => {
      const ops = [append('a', 0, 'x', 'A', [0, 10]), append('b', 0, 'x', 'B', [20, 30]), get('c', 0, 'x', 'B', [40, 50])];
      expectVerdicts(ops, 'violation', 'violation');
    });

    it('a read of a value never written violates both models, and says so', () => {
      const ops = [put('a', 0, 'x', '1', [0, 10]), get('b', 0, 'x', '7', [20, 30])];
      const r = expectVerdicts(ops, 'violation', 'violation');
      assert.ok(r.linearizable.verdict === 'violation' && /a value no operation writes to x/.test(r.linearizable.report.summary));
    });

    it('a failed write that becomes visible violates both models', () => {
      const ops = [put('a', 0, 'x', '1', [0, 10], 'fail'), get('b', 0, 'x', '1', [20, 30])];
      const r = expectVerdicts(ops, 'violation', 'violation');
      assert.ok(r.mdl.verdict === 'violation' && /a#0 put x 1 \(failed\) failed/.test(r.mdl.report.explanation.join('\n')));
    });

    it('two successful cas from the same expected value violate both models', () => {
      const ops = [put('a', 0, 'x', '0', [0, 1]), cas('b', 0, 'x', '0', '1', true, [2, 10]), cas('c', 0, 'x', '0', '2', true, [3, 11])];
      expectVerdicts(ops, 'violation', 'violation');
    });

    it('the two-client cross-shard cycle (PROTOCOLS.md §2) is linearizable but not mdl', () => {
      // A issues put x then put y; B issues get y then get x. Each key alone has an order, but
      // B saw y's write and not x's, which A issued first: a cycle through both issue orders.
      const ops = [
        put('A', 0, 'x', '1', [0, 10]),
        put('A', 1, 'y', '1', [1, 11]),
        get('B', 0, 'y', '1', [2, 12]),
        get('B', 1, 'x', null, [3, 13]),
      ];
      const r = expectVerdicts(ops, 'ok', 'violation');
      assert.deepEqual(involvedText(r.mdl, ops).sort(), ['A#0', 'A#1', 'B#0', 'B#1']);
      const text = r.mdl.verdict === 'violation' ? r.mdl.report.explanation.join('\n') : '';
      assert.match(text, /A#0 put x 1 must precede A#1 put y 1: the same client issued it earlier/);
      assert.match(text, /B#1 get x → null must precede A#0 put x 1: it found x absent/);
    });

    it('an issue-order inversion on one key is linearizable but not mdl', () => {
      // A pipelines put x 1, put x 2; B reads 2 then 1, so x held 2 before 1.
      const ops = [put('A', 0, 'x', '1', [0, 20]), put('A', 1, 'x', '2', [1, 20]), get('B', 0, 'x', '2', [2, 3]), get('B', 1, 'x', '1', [4, 5])];
      expectVerdicts(ops, 'ok', 'violation');
    });

    it('a breach of suffix-closed failures is linearizable but not mdl', () => {
      // A's put x failed, but put y, issued while put x was outstanding, succeeded.
      const ops = [put('A', 0, 'x', '1', [0, 10], 'fail'), put('A', 1, 'y', '1', [1, 5])];
      const r = expectVerdicts(ops, 'ok', 'violation');
      assert.ok(r.mdl.verdict === 'violation' && /suffix-closed/.test(r.mdl.report.explanation.join('\n')));
    });

    it('an unknown operation that took effect is in the witness', () => {
      const ops = [put('A', 0, 'x', '1', [0, null], 'unknown'), get('B', 0, 'x', '1', [10, 20])];
      const r = expectVerdicts(ops, 'ok', 'ok');
      assert.ok(r.mdl.verdict === 'ok' && r.mdl.witness.includes(0));
    });

    it('an unknown operation that did not take effect is left out', () => {
      const ops = [put('A', 0, 'x', '1', [0, 5], 'unknown'), get('B', 0, 'x', null, [10, 20])];
      const r = expectVerdicts(ops, 'ok', 'ok');
      assert.ok(r.mdl.verdict === 'ok' && !r.mdl.witness.includes(0));
    });

    it('under mdl an unknown operation took effect if a later one of its client, issued meanwhile, succeeded', () => {
      // Leaving A#0 out would leave out A#1, which succeeded; so x = 1 from t = 2 on, and B read null at 50.
      const ops = [put('A', 0, 'x', '1', [0, 100], 'unknown'), put('A', 1, 'y', '1', [1, 2]), get('B', 0, 'x', null, [50, 60])];
      expectVerdicts(ops, 'ok', 'violation');
    });

    it('a violation only the exhaustive search finds is shrunk to the operations that matter', () => {
      // Ten concurrent puts of "1" or "2" (values repeat, so no read has one writer), then reads
      // of 1 and of 2 one after the other, after every put returned; plus noise on other keys.
      const ops: HistoryOp[] = [];
      for (let c = 0; c < 10; c++) ops.push(put(`w${c}`, 0, 'x', c % 2 === 0 ? '1' : '2', [c, 100]));
      ops.push(get('r', 0, 'x', '1', [200, 210]), get('r', 1, 'x', '2', [220, 230]));
      for (let c = 0; c < 5; c++) ops.push(put(`n${c}`, 0, `k${c}`, 'v', [c, 300]), get(`n${c}`, 1, `k${c}`, 'v', [301, 310]));
      // The brute force agrees on a small version: once every put is done, x cannot read 1 and then 2.
      assert.equal(bruteForce([...ops.slice(0, 4), ...ops.slice(10, 12)], 'linearizable'), false);
      for (const model of ['linearizable', 'mdl'] as const) {
        const r = check(ops, model);
        assert.equal(r.verdict, 'violation');
        const involved = r.verdict === 'violation' ? r.report.involved : [];
        assert.ok(involved.every((i) => ops[i]?.key === 'x'), `noise was dropped: ${JSON.stringify(involved)}`);
        assert.ok(involved.includes(10) && involved.includes(11), 'both reads are named');
        const core = involved.map((i) => ops[i] as HistoryOp).map((op, k) => ({ ...op, client: `${op.client}/${k}`, seq: 0 }));
        assert.equal(check(core, model).verdict, 'violation', 'the core alone cannot be ordered');
      }
    });

    it('gives up with unknown, never ok, when the time or memory budget runs out', () => {
      const ops: HistoryOp[] = [];
      for (let c = 0; c < 12; c++) ops.push(put(`w${c}`, 0, 'x', c % 2 === 0 ? '1' : '2', [c, 100]));
      ops.push(get('r', 0, 'x', '1', [200, 210]), get('r', 1, 'x', '2', [220, 230]));
      const byMemory = checkHistory(ops, { model: 'mdl', timeoutMs: 10_000, memoryBytesMax: 1 });
      assert.equal(byMemory.verdict, 'unknown');
      assert.ok(byMemory.verdict === 'unknown' && /memory budget/.test(byMemory.reason));
      const byTime = checkHistory(ops, { model: 'linearizable', timeoutMs: 0 });
      assert.equal(byTime.verdict, 'unknown');
      assert.ok(byTime.verdict === 'unknown' && /time budget/.test(byTime.reason));
    });
  });

  describe('valid histories', () => {
    it('heavy concurrency, outages, unknown and failed operations: both models accept, with witnesses that replay', () => {
      for (const seed of [1, 2]) {
        const { ops } = simulateHistory({ ops: 2000, clients: 12, outstandingMax: 16, keys: 24, seed, outageRate: 0.02 });
        assert.ok(ops.some((op) => op.status === 'unknown') && ops.some((op) => op.status === 'fail'));
        expectVerdicts(ops, 'ok', 'ok');
      }
    });

    it('single-dispatch clients: the models agree', () => {
      const { ops } = simulateHistory({ ops: 600, clients: 6, outstandingMax: 1, keys: 4, seed: 3, outageRate: 0.02 });
      expectVerdicts(ops, 'ok', 'ok');
    });
  });

  describe('witness check', () => {
    const ops = [put('A', 0, 'x', '1', [0, 10]), put('A', 1, 'x', '2', [1, 20], 'unknown'), get('B', 0, 'x', '1', [11, 12]), put('C', 0, 'y', 'v', [0, 5], 'fail')];
    it('accepts a legal order and names what is wrong with others', () => {
      assert.equal(witnessProblem(ops, 'mdl', [0, 2]), null);
      assert.match(witnessProblem(ops, 'mdl', [0]) ?? '', /ok operation 2 is missing/);
      assert.match(witnessProblem(ops, 'mdl', [0, 2, 3]) ?? '', /failed, yet it is in the order/);
      assert.match(witnessProblem(ops, 'mdl', [0, 1, 2]) ?? '', /returned "1" but returns "2"/);
      const sequential = [put('A', 0, 'x', '1', [0, 10]), put('B', 0, 'y', '1', [20, 30])];
      assert.match(witnessProblem(sequential, 'linearizable', [1, 0]) ?? '', /placed before an ok operation that returned before it was issued/);
      assert.match(witnessProblem(ops, 'mdl', [0, 0, 2]) ?? '', /appears twice/);
    });
    it('under mdl, checks issue order and suffix-closed failures', () => {
      const pipelined = [put('A', 0, 'x', '1', [0, 10]), put('A', 1, 'y', '2', [1, 10])];
      assert.equal(witnessProblem(pipelined, 'linearizable', [1, 0]), null);
      assert.match(witnessProblem(pipelined, 'mdl', [1, 0]) ?? '', /before an operation its client issued earlier/);
      const breach = [put('A', 0, 'x', '1', [0, 10], 'fail'), put('A', 1, 'y', '2', [1, 10])];
      assert.match(witnessProblem(breach, 'mdl', [1]) ?? '', /did not take effect was outstanding/);
    });
  });
});
