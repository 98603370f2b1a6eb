/**
 * One-line logs to stderr, each with the process's prefix (`[r0.1]`, `[master]`) and the wall
 * time, quiet by default: `info` is for what an operator wants to see without asking (role
 * changes, peers coming and going, errors); `debug` only with --verbose.
 */
export interface ProcessLog {
  info(line: string): void;
  debug(line: string): void;
}

export function processLog(prefix: string, verbose: boolean): ProcessLog {
  const write = (line: string): void => {
    process.stderr.write(`${prefix} ${new Date().toISOString().slice(11, 23)} ${line}\n`);
  };
  return { info: write, debug: verbose ? write : () => undefined };
}

/** A log that says nothing (tests, library use). */
export const SILENT_LOG: ProcessLog = { info: () => undefined, debug: () => undefined };
