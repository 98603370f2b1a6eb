/**
 * Runs the history checker on a worker thread, so the harness stays responsive (progress, signals)
 * while a long check runs, and can stop it. `checkInWorker` starts this file as a worker.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { checkHistory, type CheckOptions, type CheckResult } from '../check/checker.js';
import type { HistoryOp } from '../check/history.js';

interface CheckJob {
  readonly ops: readonly HistoryOp[];
  readonly options: CheckOptions;
}

/** Checks `ops` on a worker thread; aborting `signal` stops the worker and rejects. */
export function checkInWorker(ops: readonly HistoryOp[], options: CheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const job: CheckJob = { ops, options };
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      void worker.terminate();
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => signal.removeEventListener('abort', onAbort);
    worker.once('message', (result: CheckResult) => {
      done();
      resolve(result);
    });
    worker.once('error', (err) => {
      done();
      reject(err);
    });
    worker.once('exit', (code) => {
      done();
      reject(new Error(`the checker thread exited (code ${code}) without a verdict`));
    });
  });
}

if (!isMainThread && parentPort !== null) {
  const job = workerData as CheckJob;
  parentPort.postMessage(checkHistory(job.ops, job.options));
}
