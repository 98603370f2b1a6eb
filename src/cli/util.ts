/** What every command shares: one-line operator errors and running until a signal. */

/** Exit codes: 1 for operator errors and definite failures, 2 for usage errors (and unknown outcomes of `kv`). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Prints one line naming the problem and exits non-zero; nothing else is printed. */
export function operatorError(message: string, code = EXIT_FAILURE): never {
  process.stderr.write(`mdlin: ${message}\n`);
  process.exit(code);
}

/** Resolves with the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Writes `text` to stdout and resolves once it is handed to the OS (before a process.exit). */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}
