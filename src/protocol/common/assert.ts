/**
 * Invariant checks. A failed assertion is a bug in this code base, never an expected outcome:
 * it throws, and the host crashes (a replica) or the test fails (the simulator).
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** For exhaustive switches: `default: return unreachable(x)`. */
export function unreachable(value: never): never {
  throw new AssertionError(`unreachable: ${JSON.stringify(value)}`);
}
