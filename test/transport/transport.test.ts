import { WIRE_MESSAGES } from '../../src/protocol/wire.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { parseAddress, startTcpTransport } from '../../src/transport/tcp.js';
import { transportSuite } from './suite.js';

transportSuite({
  name: 'tcp',
  create: ({ self, onMessage, listen, cluster, linkDelayMs, queueFramesMax, log }) =>
    startTcpTransport({
      self,
      cluster: cluster ?? 'test',
      table: WIRE_MESSAGES,
      onMessage,
      reconnectDelayMaxMs: 50,
      ...(listen === false ? {} : { listen: { port: listen === true ? 0 : parseAddress(listen).port } }),
      ...(linkDelayMs === undefined ? {} : { linkDelayMs }),
      ...(queueFramesMax === undefined ? {} : { queueFramesMax }),
      ...(log === undefined ? {} : { log }),
    }),
});

const network = new MemoryNetwork();
transportSuite({
  name: 'memory',
  create: ({ self, onMessage, listen, cluster, linkDelayMs, queueFramesMax, log }) =>
    Promise.resolve(
      network.create({
        self,
        cluster: cluster ?? 'test',
        table: WIRE_MESSAGES,
        onMessage,
        ...(listen === false ? {} : { listen: { address: listen === true ? '' : listen } }),
        ...(linkDelayMs === undefined ? {} : { linkDelayMs }),
        ...(queueFramesMax === undefined ? {} : { queueFramesMax }),
        ...(log === undefined ? {} : { log }),
      }),
    ),
});
