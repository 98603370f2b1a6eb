import type { MultiPaxosConfig } from '../../src/protocol/multipaxos/replica.js';

/** Small limits so that tests reach the edges (chunked prepares, log truncation) quickly. */
export function testMpConfig(over: Partial<MultiPaxosConfig> & { replica: number }): MultiPaxosConfig {
  return {
    shard: 0,
    shards: 1,
    replicas: 3,
    thrifty: false,
    pipelineSlotsMax: 8,
    heartbeatTicks: 2,
    electionTimeoutTicks: 10,
    resendTicks: 3,
    prepareEntriesMax: 4,
    fetchSlotsMax: 4,
    logRetainSlots: 16,
    batchCommandsMax: 4,
    pendingCommandsMax: 64,
    replyAtCommit: false,
    sessionResultsPerClientMax: 64,
    sessionClientsMax: 16,
    ...over,
  };
}
