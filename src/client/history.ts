/**
 * The history recorder (HISTORY.md): one line per operation, written when it completes, with
 * `call` and `ret` in nanoseconds on CLOCK_MONOTONIC (`process.hrtime.bigint()`), which every
 * process on one machine shares, so the histories of several client processes of one run line
 * up. Lines are written with synchronous appends, batched once per event-loop turn: nothing is
 * ever in flight in the background, so `close()` and the process 'exit' handler (which also
 * records the operations still outstanding as `unknown` with `ret: null`) leave a complete file.
 * The file is opened for appending, so several clients may share one.
 */
import fs from 'node:fs';
import { formatHistoryLine, type HistoryOp } from '../check/history.js';

const SAFE_NS = 2n ** 53n;

/**
 * Now, in nanoseconds on the machine's monotonic clock. Reduced modulo 2^53 to stay a safe
 * integer (the clock counts from boot: this wraps once every 104 days of uptime).
 */
export function monotonicNs(): number {
  return Number(process.hrtime.bigint() % SAFE_NS);
}

/** Recorders with a file still open; one 'exit' listener serves them all. */
const openRecorders = new Set<HistoryRecorder>();
let exitHooked = false;

function onExit(): void {
  for (const recorder of openRecorders) recorder.closeAtExit();
}

export class HistoryRecorder {
  private fd: number | null;
  private lines: string[] = [];
  private flushScheduled = false;

  /** `outstanding`: the operations issued and not completed, as they must be recorded at exit. */
  constructor(
    readonly file: string,
    private readonly outstanding: () => HistoryOp[],
  ) {
    this.fd = fs.openSync(file, 'a');
    openRecorders.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', onExit);
    }
  }

  record(op: HistoryOp): void {
    if (this.fd === null) return;
    this.lines.push(formatHistoryLine(op));
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes every line recorded so far and closes the file. */
  close(): void {
    if (this.fd === null) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = null;
    openRecorders.delete(this);
  }

  /** The process is exiting without `close()`: what is still in flight never returned. */
  closeAtExit(): void {
    for (const op of this.outstanding()) this.lines.push(formatHistoryLine(op));
    this.close();
  }

  private flush(): void {
    if (this.fd === null || this.lines.length === 0) return;
    const data = Buffer.from(`${this.lines.join('\n')}\n`);
    this.lines = [];
    for (let done = 0; done < data.length; ) done += fs.writeSync(this.fd, data, done);
  }
}
