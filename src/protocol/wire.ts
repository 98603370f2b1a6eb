/**
 * Every message kind that can cross the wire, with its code. Codes are unique across protocols
 * so one decoder serves every connection; the transport rejects anything not listed here.
 */
import { assert } from './common/assert.js';
import type { MessagesOf, MessageTable } from './common/schema.js';
import { ADMIN_MESSAGES, CLIENT_MESSAGES } from './common/messages.js';
import { MASTER_MESSAGES } from './master/messages.js';
import { MP_MESSAGES } from './multipaxos/messages.js';

export const WIRE_MESSAGES = { ...CLIENT_MESSAGES, ...ADMIN_MESSAGES, ...MASTER_MESSAGES, ...MP_MESSAGES } as const;
export type WireMessage = MessagesOf<typeof WIRE_MESSAGES>;

export function checkCodesUnique(table: MessageTable): void {
  const seen = new Map<number, string>();
  for (const [type, { code }] of Object.entries(table)) {
    const other = seen.get(code);
    assert(other === undefined, `wire code ${code} used by both ${other} and ${type}`);
    seen.set(code, type);
  }
}

checkCodesUnique(WIRE_MESSAGES);
