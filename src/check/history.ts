/**
 * The history file format of HISTORY.md: one JSON object per line, one line per operation.
 *
 * The format is a contract shared with recorders and other tools, so this module accepts exactly
 * what HISTORY.md describes and rejects everything else with the line and the field at fault;
 * nothing is guessed. Fields it does not know are ignored, because the format may grow by
 * optional fields. The rules HISTORY.md leaves implicit are decided here as follows:
 *
 * - `value` is required for put, append and cas, and absent for get.
 * - `expect` is required for cas (null is meaningful: "the key must be absent"), absent otherwise.
 * - `ret` is null only for `unknown` operations: an `ok` or `fail` outcome was learned at some
 *   moment. When present, `ret >= call`.
 * - `output` is always present. For `ok` it has the type of the operation's result (get: string or
 *   null, cas: boolean, put/append: null); for `fail` and `unknown` there is no result, so it is null.
 * - `call`, `ret` and `seq` are safe integers (JSON numbers above 2^53 would silently lose
 *   precision), `seq >= 0`.
 * - Across lines: each client's seqs are exactly 0, 1, 2, … and, since `seq` is issue order and
 *   `call` the moment of issue, `call` never decreases as `seq` grows within a client.
 */
import { AssertionError } from '../protocol/common/assert.js';
import { OP_NAMES, type OpName, type OpOutput } from '../protocol/common/kv.js';

import type { HistoryOp, HistoryStatus } from '../protocol/common/history.js';

export type { HistoryOp, HistoryStatus };

const STATUSES: readonly HistoryStatus[] = ['ok', 'fail', 'unknown'];

/**
 * A malformed history. `line` is the 1-based line of the file (or position in the array given
 * to `validateHistory`); `field` is the offending field, or null when the line as a whole is not
 * a JSON object.
 */
export class HistoryFormatError extends Error {
  override readonly name = 'HistoryFormatError';
  constructor(
    readonly line: number,
    readonly field: string | null,
    readonly detail: string,
  ) {
    super(field === null ? `line ${line}: ${detail}` : `line ${line}: field "${field}": ${detail}`);
  }
}

interface FieldProblem {
  field: string;
  detail: string;
}

type ReadResult = { op: HistoryOp } | { problem: FieldProblem };

function problem(field: string, detail: string): ReadResult {
  return { problem: { field, detail } };
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return `got ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** Checks one operation object against HISTORY.md and returns a canonical copy or what is wrong. */
function readOp(raw: Record<string, unknown>): ReadResult {
  const { client, seq, op, key, value, expect, call, ret, status, output, error } = raw;
  if (typeof client !== 'string') return problem('client', `must be a string (${describe(client)})`);
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return problem('seq', `must be an integer >= 0 (${describe(seq)})`);
  if (typeof op !== 'string' || !(OP_NAMES as readonly string[]).includes(op)) {
    return problem('op', `must be one of ${OP_NAMES.join(', ')} (${describe(op)})`);
  }
  const name = op as OpName;
  if (typeof key !== 'string') return problem('key', `must be a string (${describe(key)})`);
  if (name === 'get') {
    if (value !== undefined) return problem('value', 'must be absent for get');
  } else if (typeof value !== 'string') {
    return problem('value', `must be a string for ${name} (${describe(value)})`);
  }
  if (name === 'cas') {
    if (expect !== null && typeof expect !== 'string') return problem('expect', `must be a string or null for cas (${describe(expect)})`);
  } else if (expect !== undefined) {
    return problem('expect', `must be absent for ${name}`);
  }
  if (!Number.isSafeInteger(call)) return problem('call', `must be an integer (nanoseconds) (${describe(call)})`);
  if (typeof status !== 'string' || !(STATUSES as readonly string[]).includes(status)) {
    return problem('status', `must be one of ${STATUSES.join(', ')} (${describe(status)})`);
  }
  const state = status as HistoryStatus;
  if (ret === null) {
    if (state !== 'unknown') return problem('ret', `must be an integer for a ${state} operation (only unknown ones may never return)`);
  } else if (!Number.isSafeInteger(ret)) {
    return problem('ret', `must be an integer (nanoseconds) or null (${describe(ret)})`);
  } else if ((ret as number) < (call as number)) {
    return problem('ret', `must not be before call (${ret as number} < ${call as number})`);
  }
  const outputProblem = outputRule(name, state, output);
  if (outputProblem !== null) return problem('output', `${outputProblem} (${describe(output)})`);
  if (error !== undefined && typeof error !== 'string') return problem('error', `must be a string when present (${describe(error)})`);

  const canonical: HistoryOp = {
    client,
    seq: seq as number,
    op: name,
    key,
    call: call as number,
    ret: ret as number | null,
    status: state,
    output: output as OpOutput,
  };
  if (typeof value === 'string') canonical.value = value;
  if (name === 'cas') canonical.expect = expect as string | null;
  if (typeof error === 'string') canonical.error = error;
  return { op: canonical };
}

function outputRule(op: OpName, status: HistoryStatus, output: unknown): string | null {
  if (status !== 'ok') return output === null ? null : `must be null for a ${status} operation`;
  switch (op) {
    case 'get':
      return output === null || typeof output === 'string' ? null : 'must be a string or null for get';
    case 'cas':
      return typeof output === 'boolean' ? null : 'must be a boolean for cas';
    case 'put':
    case 'append':
      return output === null ? null : `must be null for ${op}`;
  }
}

function readLine(raw: unknown, line: number): HistoryOp {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HistoryFormatError(line, null, 'is not a JSON object');
  }
  const result = readOp(raw as Record<string, unknown>);
  if ('problem' in result) throw new HistoryFormatError(line, result.problem.field, result.problem.detail);
  return result.op;
}

/**
 * The rules that span lines: per client, seqs 0, 1, 2, … without gaps or repeats, and `call`
 * not decreasing with `seq`. `lines[i]` is where `ops[i]` came from.
 */
function checkAcrossLines(ops: readonly HistoryOp[], lines: readonly number[]): void {
  const byClient = new Map<string, number[]>();
  for (let i = 0; i < ops.length; i++) {
    const client = (ops[i] as HistoryOp).client;
    let list = byClient.get(client);
    if (list === undefined) byClient.set(client, (list = []));
    list.push(i);
  }
  for (const [client, list] of byClient) {
    // Sort by seq, then by line so that a repeat is reported on its later line.
    list.sort((a, b) => (ops[a] as HistoryOp).seq - (ops[b] as HistoryOp).seq || (lines[a] as number) - (lines[b] as number));
    for (let k = 0; k < list.length; k++) {
      const i = list[k] as number;
      const op = ops[i] as HistoryOp;
      const line = lines[i] as number;
      if (op.seq < k) {
        const first = lines[list[k - 1] as number] as number;
        throw new HistoryFormatError(line, 'seq', `client ${JSON.stringify(client)} repeats seq ${op.seq} (also on line ${first})`);
      }
      if (op.seq > k) {
        throw new HistoryFormatError(line, 'seq', `client ${JSON.stringify(client)} has no seq ${k} (seqs must be 0, 1, 2, … without gaps; this line has ${op.seq})`);
      }
      if (k > 0) {
        const prev = ops[list[k - 1] as number] as HistoryOp;
        if (op.call < prev.call) {
          const prevLine = lines[list[k - 1] as number] as number;
          throw new HistoryFormatError(
            line,
            'call',
            `client ${JSON.stringify(client)} issued seq ${op.seq} at ${op.call}, before seq ${prev.seq} (call ${prev.call}, line ${prevLine}); seq is issue order`,
          );
        }
      }
    }
  }
}

/**
 * Parses a history file. Throws HistoryFormatError naming the first malformed line and field.
 * Blank lines and lines starting with `#` are skipped; lines may come in any order.
 */
export function parseHistory(text: string): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const lines: number[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    let row = rows[i] as string;
    if (i === 0 && row.startsWith('\uFEFF')) row = row.slice(1);
    if (row.endsWith('\r')) row = row.slice(0, -1);
    const trimmed = row.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch (err) {
      throw new HistoryFormatError(i + 1, null, `is not valid JSON (${(err as Error).message})`);
    }
    ops.push(readLine(raw, i + 1));
    lines.push(i + 1);
  }
  checkAcrossLines(ops, lines);
  return ops;
}

/**
 * Checks operations built in memory (by a test, a benchmark or a simulator) by the same rules as
 * a file; `line` in the error is the 1-based position in the array. Returns canonical copies.
 */
export function validateHistory(ops: readonly unknown[]): HistoryOp[] {
  const out = ops.map((raw, i) => readLine(raw, i + 1));
  checkAcrossLines(
    out,
    out.map((_, i) => i + 1),
  );
  return out;
}

/**
 * One history line for `op` (no trailing newline), fields in the order of HISTORY.md. The
 * recorder calls this; an operation that breaks the format is a bug in the caller.
 */
export function formatHistoryLine(op: HistoryOp): string {
  const result = readOp(op as unknown as Record<string, unknown>);
  if ('problem' in result) {
    throw new AssertionError(`cannot record ${JSON.stringify(op)}: field "${result.problem.field}" ${result.problem.detail}`);
  }
  const o = result.op;
  const ordered: Record<string, unknown> = { client: o.client, seq: o.seq, op: o.op, key: o.key };
  if (o.value !== undefined) ordered['value'] = o.value;
  if (o.expect !== undefined) ordered['expect'] = o.expect;
  ordered['call'] = o.call;
  ordered['ret'] = o.ret;
  ordered['status'] = o.status;
  ordered['output'] = o.output;
  if (o.error !== undefined) ordered['error'] = o.error;
  return JSON.stringify(ordered);
}
