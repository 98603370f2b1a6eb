/**
 * What a client's connections carry, for every protocol: requests and replies, the admin
 * messages, the master's messages, and the requests of MDL's multi-dispatch sessions. Codes are
 * shared with the replicas' tables (src/protocol/wire.ts), so one client
 * table talks to a cluster of any protocol; a client never sends or receives log messages.
 */
import { ADMIN_MESSAGES, CLIENT_MESSAGES } from '../protocol/common/messages.js';
import type { MessagesOf } from '../protocol/common/schema.js';
import { MASTER_MESSAGES } from '../protocol/master/messages.js';
import { MDL_MESSAGES } from '../protocol/mdl/messages.js';
import { checkDisjoint } from '../protocol/wire.js';

export const CLIENT_WIRE = {
  ...CLIENT_MESSAGES,
  ...ADMIN_MESSAGES,
  ...MASTER_MESSAGES,
  mdlRequest: MDL_MESSAGES.mdlRequest,
  coordRequest: MDL_MESSAGES.coordRequest,
} as const;

export type ClientWireMessage = MessagesOf<typeof CLIENT_WIRE>;

checkDisjoint(CLIENT_MESSAGES, ADMIN_MESSAGES, MASTER_MESSAGES, { mdlRequest: MDL_MESSAGES.mdlRequest, coordRequest: MDL_MESSAGES.coordRequest });
