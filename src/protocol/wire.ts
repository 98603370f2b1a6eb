/**
 * What each kind of connection carries. A cluster runs one protocol, so the log messages of
 * different protocols may share codes; within one table every name and every code is unique, and
 * `checkDisjoint` proves it for the tables a table is spread from (a spread would otherwise let a
 * later table silently replace an earlier one's message of the same name).
 * - a replica's connections (peers, clients, operators): client, admin and its protocol's messages;
 * - a connection to the master: the master's messages only;
 * - a client's connections: client, admin, master and MDL client messages (see src/client/wire.ts).
 */
import { assert } from './common/assert.js';
import type { MessagesOf, MessageTable } from './common/schema.js';
import { ADMIN_MESSAGES, CLIENT_MESSAGES } from './common/messages.js';
import { MASTER_MESSAGES } from './master/messages.js';
import { MDL_MESSAGES } from './mdl/messages.js';
import { MP_MESSAGES } from './multipaxos/messages.js';

/** Asserts that no two of `tables` share a message name or a wire code. */
export function checkDisjoint(...tables: MessageTable[]): void {
  const names = new Set<string>();
  const codes = new Map<number, string>();
  for (const table of tables) {
    for (const [type, { code }] of Object.entries(table)) {
      assert(!names.has(type), `message name ${type} is defined twice`);
      const other = codes.get(code);
      assert(other === undefined, `wire code ${code} used by both ${other} and ${type}`);
      names.add(type);
      codes.set(code, type);
    }
  }
}

checkDisjoint(CLIENT_MESSAGES, ADMIN_MESSAGES, MP_MESSAGES);
checkDisjoint(CLIENT_MESSAGES, ADMIN_MESSAGES, MDL_MESSAGES);
checkDisjoint(MASTER_MESSAGES);

/** A Multi-Paxos replica's connections. */
export const PAXOS_WIRE = { ...CLIENT_MESSAGES, ...ADMIN_MESSAGES, ...MP_MESSAGES } as const;
export type PaxosWireMessage = MessagesOf<typeof PAXOS_WIRE>;

/** An MDL replica's connections. */
export const MDL_WIRE = { ...CLIENT_MESSAGES, ...ADMIN_MESSAGES, ...MDL_MESSAGES } as const;
export type MdlWireMessage = MessagesOf<typeof MDL_WIRE>;

/** Connections to the master. */
export const MASTER_WIRE = MASTER_MESSAGES;

/** Every table, for tests that must cover every message kind. */
export const ALL_WIRE_TABLES = { paxos: PAXOS_WIRE, mdl: MDL_WIRE, master: MASTER_WIRE } as const;

/** The representative table the transport's own tests and benchmark use. */
export const WIRE_MESSAGES = PAXOS_WIRE;
export type WireMessage = PaxosWireMessage;
