/**
 * One operation of a client history, with the field names of HISTORY.md (the checker's input
 * format). Times are nanoseconds of virtual time, so every client shares one clock.
 */
import type { OpName, OpOutput } from '../protocol/common/kv.js';

export interface HistoryRecord {
  client: string;
  seq: number;
  op: OpName;
  key: string;
  /** put, append: the value written; cas: the new value. Absent for get. */
  value?: string;
  /** cas only: the value the key must hold (null: absent). */
  expect?: string | null;
  call: number;
  /** null: the client never learned the outcome. */
  ret: number | null;
  status: 'ok' | 'fail' | 'unknown';
  /** get: the value read; cas: whether it swapped; otherwise (and when not ok) null. */
  output: OpOutput;
  error?: string;
}

export const NS_PER_MS = 1_000_000;
