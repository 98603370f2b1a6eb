/**
 * The errors a client operation can end with. Users need to know whether a retry is safe, so
 * there is one class per outcome: the operation definitely did not take effect, or it may have.
 */

/** The operation definitely did not take effect: retrying it is safe. */
export class OperationFailedError extends Error {
  override readonly name = 'OperationFailedError';
}

/** The operation may or may not have taken effect (a timeout, a lost connection, a crash). */
export class OutcomeUnknownError extends Error {
  override readonly name = 'OutcomeUnknownError';
}

/** `connect` could not reach the master, or the master refused this client. */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
}
