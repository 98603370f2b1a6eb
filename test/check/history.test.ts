/**
 * The history file format (HISTORY.md): what parses, and how a malformed line is reported.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../../src/protocol/common/assert.js';
import { HistoryFormatError, formatHistoryLine, parseHistory, validateHistory, type HistoryOp } from '../../src/check/history.js';
import { cas, get, put } from './ops.js';

const PUT = '{"client":"a","seq":0,"op":"put","key":"x","value":"1","call":10,"ret":20,"status":"ok","output":null}';
const GET = '{"client":"a","seq":1,"op":"get","key":"x","call":15,"ret":30,"status":"ok","output":"1"}';

/** Parses `lines` and returns the error, failing if there is none. */
function formatError(lines: string[]): HistoryFormatError {
  try {
    parseHistory(lines.join('\n'));
  } catch (err) {
    assert.ok(err instanceof HistoryFormatError, String(err));
    return err;
  }
  assert.fail('expected a HistoryFormatError');
}

/** One operation line with `fields` replaced (undefined: removed). */
function line(base: string, fields: Record<string, unknown>): string {
  const obj = JSON.parse(base) as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) delete obj[k];
    else obj[k] = v;
  }
  return JSON.stringify(obj);
}

describe('check', () => {
  describe('history format', () => {
    it('skips blank and # lines, takes lines in any order, ignores unknown fields', () => {
      const ops = parseHistory(['# a comment', '', GET, '   # indented comment', line(PUT, { traceId: 'x' }), ''].join('\n'));
      assert.equal(ops.length, 2);
      assert.deepEqual(ops[1], { client: 'a', seq: 0, op: 'put', key: 'x', value: '1', call: 10, ret: 20, status: 'ok', output: null });
    });

    it('accepts CRLF line ends and a byte-order mark', () => {
      assert.equal(parseHistory(`\uFEFF${PUT}\r\n${GET}\r\n`).length, 2);
    });

    it('a line that is not JSON names its line and no field', () => {
      const err = formatError([PUT, '{"client": "a",']);
      assert.equal(err.line, 2);
      assert.equal(err.field, null);
      assert.match(err.message, /line 2: is not valid JSON/);
    });

    it('a JSON value that is not an object names its line', () => {
      const err = formatError([PUT, '[1, 2]']);
      assert.equal(err.line, 2);
      assert.equal(err.field, null);
    });

    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['client missing', { client: undefined }, 'client', /must be a string \(missing\)/],
      ['seq negative', { seq: -1 }, 'seq', /integer >= 0/],
      ['seq fractional', { seq: 1.5 }, 'seq', /integer >= 0/],
      ['op unknown', { op: 'delete' }, 'op', /must be one of get, put, cas, append/],
      ['key not a string', { key: 7 }, 'key', /must be a string/],
      ['value missing on put', { value: undefined }, 'value', /must be a string for put/],
      ['expect on put', { expect: null }, 'expect', /must be absent for put/],
      ['call not an integer', { call: '10' }, 'call', /must be an integer/],
      ['call beyond 2^53', { call: 2 ** 60 }, 'call', /must be an integer/],
      ['ret null on ok', { ret: null }, 'ret', /only unknown ones may never return/],
      ['ret before call', { ret: 5 }, 'ret', /must not be before call/],
      ['status unknown word', { status: 'done' }, 'status', /must be one of ok, fail, unknown/],
      ['output on put', { output: 'x' }, 'output', /must be null for put/],
      ['output on a failed op', { status: 'fail', output: true }, 'output', /must be null for a fail operation/],
      ['error not a string', { error: 3 }, 'error', /must be a string when present/],
    ];
    for (const [title, fields, field, detail] of cases) {
      it(`${title}: names line and field "${field}"`, () => {
        const err = formatError([GET, line(PUT, fields)]);
        assert.equal(err.line, 2);
        assert.equal(err.field, field);
        assert.match(err.message, new RegExp(`^line 2: field "${field}": `));
        assert.match(err.detail, detail);
      });
    }

    it('get takes no value, cas needs expect, outputs match the op', () => {
      assert.equal(formatError([line(GET, { value: '1' })]).field, 'value');
      assert.equal(formatError([line(PUT, { op: 'cas' })]).field, 'expect');
      assert.equal(formatError([line(PUT, { op: 'cas', expect: null })]).field, 'output');
      assert.equal(formatError([line(GET, { output: true })]).field, 'output');
      assert.equal(formatError([line(GET, { output: undefined })]).field, 'output');
    });

    it('an unknown operation may never return; a failed one may not', () => {
      assert.equal(parseHistory(line(PUT, { status: 'unknown', ret: null })).length, 1);
      assert.equal(formatError([line(PUT, { status: 'fail', ret: null })]).field, 'ret');
    });

    it('a gap in a client\'s seqs names the client and the line after the gap', () => {
      const err = formatError([PUT, line(GET, { seq: 2 }), line(GET, { client: 'b', seq: 0 })]);
      assert.equal(err.line, 2);
      assert.equal(err.field, 'seq');
      assert.match(err.detail, /client "a" has no seq 1/);
    });

    it('a repeated seq names the client and both lines', () => {
      const err = formatError([PUT, GET, line(GET, { call: 40, ret: 50 })]);
      assert.equal(err.line, 3);
      assert.equal(err.field, 'seq');
      assert.match(err.detail, /client "a" repeats seq 1 \(also on line 2\)/);
    });

    it('a client cannot issue a later seq before an earlier one', () => {
      const err = formatError([PUT, line(GET, { call: 5, ret: 30 })]);
      assert.equal(err.line, 2);
      assert.equal(err.field, 'call');
      assert.match(err.detail, /issued seq 1 at 5, before seq 0/);
    });

    it('validateHistory applies the same rules to operations in memory, by position', () => {
      assert.throws(
        () => validateHistory([put('a', 0, 'x', '1', [0, 1]), { ...get('a', 1, 'x', '1', [2, 3]), status: 'ok', output: 5 }]),
        (err: unknown) => err instanceof HistoryFormatError && err.line === 2 && err.field === 'output',
      );
    });

    it('formatHistoryLine writes one line that parses back to the same operation', () => {
      const ops: HistoryOp[] = [
        put('c1', 0, 'x', 'v', [1, 5]),
        cas('c1', 1, 'x', null, 'w', true, [2, 6]),
        { ...get('c1', 2, 'x', null, [3, null], 'unknown'), error: 'timed out' },
      ];
      const text = ops.map(formatHistoryLine).join('\n');
      assert.ok(!text.split('\n').some((l) => l.includes('\n')));
      assert.deepEqual(parseHistory(text), ops);
      assert.equal(formatHistoryLine(ops[0] as HistoryOp), '{"client":"c1","seq":0,"op":"put","key":"x","value":"v","call":1,"ret":5,"status":"ok","output":null}');
    });

    it('formatHistoryLine refuses an operation the format does not allow (a recorder bug)', () => {
      assert.throws(() => formatHistoryLine({ ...put('c', 0, 'x', 'v', [5, 1]) }), (err: unknown) => err instanceof AssertionError && /"ret"/.test(err.message));
    });
  });
});
