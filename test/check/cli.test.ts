/**
 * `mdlin check`: exit codes, text, JSON and HTML outputs, and usage errors, through the command
 * registered on a commander program of the test's own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT_INPUT, EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION, addCheckCommand, runCheck, type CheckCommandOptions } from '../../src/check/cli.js';
import { formatHistoryLine, type HistoryOp } from '../../src/check/history.js';
import { get, put } from './ops.js';

const CYCLE: HistoryOp[] = [put('A', 0, 'x', '1', [0, 10]), put('A', 1, 'y', '1', [1, 11]), get('B', 0, 'y', '1', [2, 12]), get('B', 1, 'x', null, [3, 13])];

/** Hard enough for the search that a zero timeout gives up (see anomalies.test.ts). */
const HARD: HistoryOp[] = [
  ...Array.from({ length: 12 }, (_, c) => put(`w${c}`, 0, 'x', c % 2 === 0 ? '1' : '2', [c, 100])),
  get('r', 0, 'x', '1', [200, 210]),
  get('r', 1, 'x', '2', [220, 230]),
];

describe('check', () => {
  describe('cli', () => {
    let dir = '';
    const file = (name: string, ops: HistoryOp[] | string) => {
      const path = join(dir, name);
      writeFileSync(path, typeof ops === 'string' ? ops : ops.map(formatHistoryLine).join('\n') + '\n');
      return path;
    };
    const run = (path: string, options: Partial<CheckCommandOptions> = {}) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = runCheck(path, { model: 'mdl', timeoutSeconds: 10, json: false, ...options }, { out: (t) => out.push(t), err: (t) => err.push(t) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'mdlin-check-cli-'));
    });
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('exit 0 and a one-line summary when the history satisfies the model', () => {
      const r = run(file('cycle.jsonl', CYCLE), { model: 'linearizable' });
      assert.equal(r.code, EXIT_OK);
      assert.match(r.out, /^ok: 4 operations \(4 ok, 0 failed, 0 unknown\) of 2 clients on 2 keys satisfy linearizable/);
      assert.equal(r.err, '');
    });

    it('exit 1 and a report naming the operations when it violates it', () => {
      const r = run(file('cycle.jsonl', CYCLE));
      assert.equal(r.code, EXIT_VIOLATION);
      assert.match(r.out, /^violation of mdl: 4 operations cannot be ordered/);
      for (const op of ['A#0 put x 1', 'A#1 put y 1', 'B#0 get y → 1', 'B#1 get x → null']) assert.ok(r.out.includes(`  ${op}`), op);
    });

    it('exit 2 when it gives up', () => {
      const r = run(file('hard.jsonl', HARD), { model: 'linearizable', timeoutSeconds: 1e-9 });
      assert.equal(r.code, EXIT_UNKNOWN);
      assert.match(r.out, /^unknown: gave up on linearizable after .* time budget reached/);
    });

    it('exit 3 and one line naming the line and field of a malformed file', () => {
      const r = run(file('bad.jsonl', `${formatHistoryLine(CYCLE[0] as HistoryOp)}\n{"client":"B","seq":0,"op":"get","key":"x","call":1,"ret":2,"status":"ok"}\n`));
      assert.equal(r.code, EXIT_INPUT);
      assert.equal(r.err, `${join(dir, 'bad.jsonl')}:2: field "output": must be a string or null for get (missing)`);
      assert.equal(r.out, '');
    });

    it('exit 3 and one line when the file cannot be read', () => {
      const r = run(join(dir, 'missing.jsonl'));
      assert.equal(r.code, EXIT_INPUT);
      assert.match(r.err, /^cannot read .*missing\.jsonl: ENOENT/);
    });

    it('--json prints one object with the verdict, counts, the involved operations and why', () => {
      const r = run(file('cycle.jsonl', CYCLE), { json: true });
      assert.equal(r.code, EXIT_VIOLATION);
      assert.equal(r.out.split('\n').length, 1);
      const report = JSON.parse(r.out) as {
        verdict: string;
        model: string;
        counts: { ops: number; clients: number; keys: number };
        involved: { index: number; text: string; op: HistoryOp }[];
        explanation: string[];
      };
      assert.equal(report.verdict, 'violation');
      assert.equal(report.model, 'mdl');
      assert.deepEqual([report.counts.ops, report.counts.clients, report.counts.keys], [4, 2, 2]);
      assert.deepEqual(report.involved.map((o) => o.index).sort(), [0, 1, 2, 3]);
      assert.deepEqual(report.involved.find((o) => o.index === 3)?.op, CYCLE[3]);
      assert.equal(report.explanation.length, 4);
      const ok = JSON.parse(run(file('cycle.jsonl', CYCLE), { json: true, model: 'linearizable' }).out) as { verdict: string; witnessLength: number };
      assert.deepEqual([ok.verdict, ok.witnessLength], ['ok', 4]);
    });

    it('--html writes a self-contained timeline with the involved operations highlighted', () => {
      const out = join(dir, 'cycle.html');
      assert.equal(run(file('cycle.jsonl', [...CYCLE, put('C', 0, 'z', '1', [0, null], 'unknown')]), { html: out }).code, EXIT_VIOLATION);
      const html = readFileSync(out, 'utf8');
      assert.match(html, /^<!doctype html>/);
      assert.doesNotMatch(html, /<script|<link|src=|url\(|https?:/);
      assert.equal(html.match(/class="row"/g)?.length, 3, 'one row per client');
      assert.equal(html.match(/class="op [^"]*involved/g)?.length, 4);
      assert.match(html, /class="op unknown open"/);
      assert.match(html, /B#1 get x → null must precede A#0 put x 1/);
    });

    describe('the command', () => {
      const program = () => {
        const errors: string[] = [];
        const p = new Command('mdlin').exitOverride().configureOutput({ writeErr: (t) => errors.push(t), writeOut: () => undefined });
        addCheckCommand(p);
        return { p, errors };
      };
      const usageError = (argv: string[]) => {
        const { p, errors } = program();
        assert.throws(
          () => p.parse(['node', 'mdlin', 'check', ...argv]),
          (err: unknown) => err instanceof CommanderError && err.exitCode === EXIT_INPUT,
        );
        assert.equal(errors.length, 1);
        return errors[0] as string;
      };

      it('runs and sets process.exitCode', () => {
        const { p } = program();
        const saved = process.exitCode;
        const write = process.stdout.write;
        process.stdout.write = () => true;
        try {
          p.parse(['node', 'mdlin', 'check', '--model', 'linearizable', '--timeout', '5', file('cycle.jsonl', CYCLE)]);
          assert.equal(process.exitCode, EXIT_OK);
        } finally {
          process.stdout.write = write;
          process.exitCode = saved;
        }
      });

      it('bad flags are usage errors that exit 3 with one line', () => {
        assert.match(usageError(['--model', 'serializable', 'h.jsonl']), /argument 'serializable' is invalid. Allowed choices are linearizable, mdl/);
        assert.match(usageError(['h.jsonl']), /required option '--model <model>' not specified/);
        assert.match(usageError(['--model', 'mdl', '--timeout', 'soon', 'h.jsonl']), /'--timeout <seconds>' argument 'soon' is invalid/);
        assert.match(usageError(['--model', 'mdl', '--frobnicate', 'h.jsonl']), /unknown option '--frobnicate'/);
        assert.match(usageError(['--model', 'mdl']), /missing required argument 'file'/);
      });

      it('--help describes the options and the exit codes', () => {
        const out: string[] = [];
        const p = new Command('mdlin').exitOverride().configureOutput({ writeOut: (t) => out.push(t), writeErr: () => undefined });
        addCheckCommand(p);
        assert.throws(() => p.parse(['node', 'mdlin', 'check', '--help']), (err: unknown) => err instanceof CommanderError && err.exitCode === 0);
        const help = out.join('');
        assert.match(help, /--model <model>/);
        assert.match(help, /--html <out>/);
        assert.match(help, /Exit codes: 0 satisfies the model, 1 violates it/);
      });
    });
  });
});
