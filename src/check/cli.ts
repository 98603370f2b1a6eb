/**
 * `mdlin check`: checks a history file against a consistency model.
 *
 * Exit codes: 0 the history satisfies the model, 1 it violates it, 2 the checker gave up within
 * its time or memory limit, 3 the file cannot be read or is malformed, or the command line is
 * wrong. Each error is one line on stderr.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option, type ErrorOptions } from 'commander';
import { checkHistory, historyCounts, type CheckResult, type Model } from './checker.js';
import { HistoryFormatError, parseHistory, type HistoryOp } from './history.js';
import { renderHistoryHtml } from './html.js';
import { describeOp } from './report.js';

export const EXIT_OK = 0;
export const EXIT_VIOLATION = 1;
export const EXIT_UNKNOWN = 2;
export const EXIT_INPUT = 3;

const TIMEOUT_SECONDS_DEFAULT = 60;

export interface CheckCommandOptions {
  model: Model;
  timeoutSeconds: number;
  /** Print one JSON object instead of text. */
  json: boolean;
  /** Also write an HTML timeline here. */
  html?: string;
}

/** Where the command writes: stdout and stderr, one line or block per call. */
export interface CheckOutput {
  out(text: string): void;
  err(text: string): void;
}

const consoleOutput: CheckOutput = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** Runs the check and returns the exit code (the command sets process.exitCode to it). */
export function runCheck(file: string, options: CheckCommandOptions, io: CheckOutput = consoleOutput): number {
  let ops: HistoryOp[];
  try {
    ops = parseHistory(readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof HistoryFormatError) {
      io.err(`${file}:${err.line}: ${err.field === null ? '' : `field "${err.field}": `}${err.detail}`);
    } else {
      io.err(`cannot read ${file}: ${(err as Error).message}`);
    }
    return EXIT_INPUT;
  }
  const started = performance.now();
  const result = checkHistory(ops, { model: options.model, timeoutMs: options.timeoutSeconds * 1000 });
  const elapsedMs = performance.now() - started;
  if (options.html !== undefined) {
    try {
      writeFileSync(options.html, renderHistoryHtml(ops, result, options.model, file));
    } catch (err) {
      io.err(`cannot write ${options.html}: ${(err as Error).message}`);
      return EXIT_INPUT;
    }
  }
  if (options.json) io.out(JSON.stringify(jsonReport(ops, result, options.model, file, elapsedMs)));
  else io.out(textReport(ops, result, options.model, elapsedMs));
  return result.verdict === 'ok' ? EXIT_OK : result.verdict === 'violation' ? EXIT_VIOLATION : EXIT_UNKNOWN;
}

function textReport(ops: readonly HistoryOp[], result: CheckResult, model: Model, elapsedMs: number): string {
  const c = historyCounts(ops);
  const seconds = `${(elapsedMs / 1000).toFixed(2)} s`;
  switch (result.verdict) {
    case 'ok':
      return `ok: ${c.ops} operations (${c.ok} ok, ${c.fail} failed, ${c.unknown} unknown) of ${c.clients} clients on ${c.keys} keys satisfy ${model}; witness order of ${result.witness.length} operations found in ${seconds}`;
    case 'unknown':
      return `unknown: gave up on ${model} after ${seconds}: ${result.reason}`;
    case 'violation':
      return [
        `violation of ${model}: ${result.report.summary}`,
        '',
        ...result.report.explanation,
        '',
        'operations involved:',
        ...result.report.involved.map((i) => `  ${describeOp(ops[i] as HistoryOp)}`),
      ].join('\n');
  }
}

function jsonReport(ops: readonly HistoryOp[], result: CheckResult, model: Model, file: string, elapsedMs: number): object {
  const base = { verdict: result.verdict, model, file, counts: historyCounts(ops), elapsedMs: Math.round(elapsedMs) };
  switch (result.verdict) {
    case 'ok':
      return { ...base, witnessLength: result.witness.length };
    case 'unknown':
      return { ...base, reason: result.reason };
    case 'violation':
      return {
        ...base,
        summary: result.report.summary,
        explanation: result.report.explanation,
        involved: result.report.involved.map((i) => ({ index: i, text: describeOp(ops[i] as HistoryOp), op: ops[i] })),
      };
  }
}

/** A command whose usage errors exit with EXIT_INPUT, like every other input error of `check`. */
class CheckCommand extends Command {
  override error(message: string, errorOptions?: ErrorOptions): never {
    return super.error(message, { ...errorOptions, exitCode: EXIT_INPUT });
  }
}

function positiveSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new InvalidArgumentError('must be a positive number of seconds.');
  return seconds;
}

/** Registers `check` on the program (the mdlin CLI, or a test's own program). */
export function addCheckCommand(program: Command): void {
  const command = new CheckCommand('check')
    .copyInheritedSettings(program)
    .description('check a recorded history (JSON Lines, see HISTORY.md) against a consistency model')
    .argument('<file>', 'the history file')
    .addOption(new Option('--model <model>', 'the model to check').choices(['linearizable', 'mdl']).makeOptionMandatory())
    .option('--timeout <seconds>', 'give up (verdict unknown) after this long', positiveSeconds, TIMEOUT_SECONDS_DEFAULT)
    .option('--json', 'print one JSON object for tools instead of text', false)
    .option('--html <out>', 'also write a self-contained HTML timeline of the history to this file')
    .addHelpText(
      'after',
      '\nExit codes: 0 satisfies the model, 1 violates it (the report names the operations and why),\n' +
        '2 unknown (gave up within the time or memory limit), 3 unreadable or malformed file, or bad usage.',
    )
    .action((file: string, opts: { model: Model; timeout: number; json: boolean; html?: string }) => {
      const options: CheckCommandOptions = { model: opts.model, timeoutSeconds: opts.timeout, json: opts.json };
      if (opts.html !== undefined) options.html = opts.html;
      process.exitCode = runCheck(file, options);
    });
  program.addCommand(command);
}
