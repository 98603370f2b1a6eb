/**
 * One operation of a client history, exactly as HISTORY.md defines the file format: the record
 * the client library's recorder and the simulator write, and the checker reads. Parsing and
 * validation live in src/check/history.ts.
 */
import type { OpName, OpOutput } from './kv.js';

export type HistoryStatus = 'ok' | 'fail' | 'unknown';

export interface HistoryOp {
  client: string;
  seq: number;
  op: OpName;
  key: string;
  /** put, append: the value written; cas: the new value. Absent for get. */
  value?: string;
  /** cas only: the value the key must hold (null: the key must be absent). */
  expect?: string | null;
  /** Nanoseconds, on one monotonic clock shared by every client of the history. */
  call: number;
  /** When the client learned the outcome; null when it never did (only for `unknown`). */
  ret: number | null;
  status: HistoryStatus;
  /** get: the value read; cas: whether it swapped; put, append, and any op not `ok`: null. */
  output: OpOutput;
  /** Free text for people: why it failed or why the outcome is unknown. */
  error?: string;
}
