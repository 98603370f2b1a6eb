/**
 * The mdlin client library (the package's entry point):
 *
 *   const kv = await connect({ master: '127.0.0.1:7000' });
 *   await kv.put('k', 'v');
 *   await kv.get('k'); // 'v'
 *   await kv.close();
 */
export { connect, type ConnectOptions, type KvClient } from './client.js';
export { ConnectError, OperationFailedError, OutcomeUnknownError } from './errors.js';
