/**
 * What the history says on its own (sources.ts), and what the search builds on it: facts every
 * witness has, so a wrong one makes the checker reject valid histories.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory } from '../../src/check/checker.js';
import { prepare } from '../../src/check/prepared.js';
import { search } from '../../src/check/search.js';
import { analyzeSources } from '../../src/check/sources.js';
import { witnessProblem } from '../../src/check/witness.js';
import { append, bruteForce, cas, get, put } from './ops.js';

describe('check › sources', () => {
  it('an unknown cas that a read sees extended by the only append of the rest is in every witness, and so is what its client issued before it while outstanding', () => {
    const ops = [
      put('a', 0, 'x', 'p', [0, 10]),
      put('u', 0, 'y', 'u0', [20, null], 'unknown'),
      cas('u', 1, 'x', 'p', 'q', false, [30, null], 'unknown'),
      append('b', 0, 'x', ';b', [40, 50]),
      cas('c', 0, 'x', 'q;b', 'r', true, [60, 70]),
    ];
    const p = prepare(ops);
    const facts = analyzeSources(p, 'mdl');
    const at = (i: number) => Array.from(p.source).indexOf(i);
    assert.equal(p.source[facts.source[at(4)] as number], 3, 'the append is the only operation that can leave x = q;b');
    assert.equal(p.source[facts.base[at(4)] as number], 2, 'the unknown cas is the only put or cas that can write the q under it');
    assert.deepEqual([...facts.sure], [1, 1, 1, 1, 1]);
  });

  it('an append whose value only occurs inside another one\'s ("c2:2" in "c2:21") does not have to follow the base of a read', () => {
    // The base put p comes after c2:2 by real time; the read holds c2:21, not c2:2.
    const ops = [
      append('a', 0, 'x', 'c2:2', [0, 10]),
      put('p', 0, 'x', 'p', [20, 30]),
      append('b', 0, 'x', 'c2:21', [40, 50]),
      append('d', 0, 'x', 'c2:21', [40, null], 'unknown'),
      get('r', 0, 'x', 'pc2:21', [60, 70]),
      put('a', 1, 'y', '1', [11, 80]),
      get('p', 1, 'y', null, [31, 90]),
      get('r', 1, 'y', '1', [71, 100]),
    ];
    assert.equal(bruteForce(ops, 'mdl'), true);
    const result = checkHistory(ops, { model: 'mdl', timeoutMs: 10_000 });
    assert.equal(result.verdict, 'ok');
    assert.ok(result.verdict === 'ok' && witnessProblem(ops, 'mdl', result.witness) === null);
  });

  it('the whole-history search does not make an append precede a read whose value holds its value only inside another one\'s ("c2:2" in "c2:21")', () => {
    // C's append of c2:2 comes after R read c2:21; were it taken to precede that read, R's next
    // read of X would have to follow C's put of Y, which overwrites X.
    const ops = [
      put('P', 0, 'x', 'X', [0, 10]),
      append('B', 0, 'k', 'c2:21', [20, 30]),
      get('R', 0, 'k', 'c2:21', [40, 50]),
      get('R', 1, 'x', 'X', [60, 70]),
      put('C', 0, 'x', 'Y', [55, 90]),
      append('C', 1, 'k', 'c2:2', [56, 110]),
    ];
    assert.equal(bruteForce(ops, 'mdl'), true);
    const result = search(prepare(ops), 'mdl', { deadlineMs: performance.now() + 10_000, memoryBytesMax: 1 << 28 });
    assert.equal(result.kind, 'ok');
  });
});
