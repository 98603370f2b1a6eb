import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PhaseTimer } from '../../src/runtime/phases.js';

describe('runtime › MDL phase timing', () => {
  it('splits each operation into pending, committed, coordinated and ordered', () => {
    let now = 0;
    const t = new PhaseTimer(10, () => now);
    const at = (ms: number, phase: Parameters<PhaseTimer['observe']>[0], seq = 1) => {
      now = ms;
      t.observe(phase, 'c', seq);
    };
    at(0, 'arrived');
    at(4, 'committed');
    at(9, 'coordinated');
    at(9, 'appended');
    at(13, 'executed');
    assert.deepEqual(t.medians(), { count: 1, pending: 4, committed: 5, coordinated: 0, ordered: 4 });
  });

  it('an operation coordinated before it was committed waited for nothing after round 1', () => {
    let now = 0;
    const t = new PhaseTimer(10, () => now);
    for (const [ms, phase] of [[0, 'arrived'], [1, 'coordinated'], [4, 'committed'], [4, 'appended'], [8, 'executed']] as const) {
      now = ms;
      t.observe(phase, 'c', 1);
    }
    const m = t.medians();
    assert.equal(m.committed, 0);
    assert.equal(m.coordinated, 0);
    assert.equal(m.ordered, 4);
  });

  it('tracks a bounded number of operations and resets on demand', () => {
    const t = new PhaseTimer(2, () => 0);
    for (let seq = 0; seq < 5; seq++) t.observe('arrived', 'c', seq);
    for (let seq = 0; seq < 5; seq++) {
      t.observe('committed', 'c', seq);
      t.observe('coordinated', 'c', seq);
      t.observe('appended', 'c', seq);
      t.observe('executed', 'c', seq);
    }
    assert.equal(t.medians().count, 2, 'only the two newest were still tracked');
    t.reset();
    assert.equal(t.medians().count, 0);
  });
});
