/**
 * The benchmark report: results.json is the array as given, report.md tables every cell with
 * its ratio and model, links only charts that were written, and any subset of the matrix
 * renders. Charts are checked to be well-formed SVG.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelLatencyMs } from '../../src/bench/model.js';
import { formatTable, writeReport, type BenchResult, type ReportMeta } from '../../src/bench/report.js';
import { assertWellFormedXml } from './xml.js';

const META: ReportMeta = {
  date: '2025-01-02T03:04:05.000Z',
  node: 'v20.19.0',
  cpuModel: 'Test CPU @ 2.0GHz',
  cpuCount: 2,
  platform: 'linux x64',
  memoryBytes: 8 * 2 ** 30,
  command: 'mdlin bench --dir out',
  settings: { duration_s: 10, skew: 0.99 },
};

/** A cell whose p50 is `scale` × the model (queueing grows with clients), with a plausible spread. */
function cell(protocol: BenchResult['protocol'], topology: 'uniform' | 'edge' | 'geo', delay: number, shards: number, fanout: number, clients: number): BenchResult {
  const model = modelLatencyMs(protocol, fanout, topology, delay, shards);
  const p50 = model * (1 + 0.1 * (clients - 1)) + 1.5;
  const throughput = (clients * 1000) / p50;
  return {
    protocol,
    shards,
    replicas: 3,
    fanout,
    clients,
    topology,
    delay_ms: delay,
    duration_s: 10,
    requests: Math.round(throughput * 10),
    operations: Math.round(throughput * 10) * fanout,
    throughput_rps: throughput,
    latency_ms: { p50, p90: p50 * 1.2, p99: p50 * 1.5, mean: p50 * 1.05, max: p50 * 2 },
    check: 'ok',
    errors: { fail: 0, unknown: 0 },
    phases_ms: protocol === 'mdl' ? { pending: 2 * delay, committed: 2 * delay, coordinated: delay, ordered: 2 * delay } : null,
    model_ms: model,
  };
}

function matrix(): BenchResult[] {
  const out: BenchResult[] = [];
  for (const protocol of ['paxos', 'mdl'] as const) {
    for (const shards of [4, 16]) {
      for (const fanout of [1, 4, 16]) {
        for (const clients of [1, 4]) out.push(cell(protocol, 'uniform', 10, shards, fanout, clients));
      }
    }
    for (const fanout of [1, 16]) out.push(cell(protocol, 'edge', 1, 16, fanout, 1), cell(protocol, 'geo', 1, 16, fanout, 1));
  }
  return out;
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdlin-report-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The images report.md links to; each must exist and be well-formed. */
function linkedCharts(markdown: string): string[] {
  const names = [...markdown.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
  for (const name of names) {
    assert.ok(existsSync(join(dir, name)), `${name} is linked but missing`);
    const svg = readFileSync(join(dir, name), 'utf8');
    assertWellFormedXml(svg);
    assert.doesNotMatch(svg, /NaN|Infinity/);
  }
  return names;
}

/** The table row of report.md for a cell, split into its columns. */
function row(markdown: string, protocol: string, shards: number, fanout: number, clients: number, section: string): string[] {
  const body = markdown.slice(markdown.indexOf(`## ${section}\n`));
  const line = body.split('\n').find((l) => l.startsWith(`| ${protocol} | ${shards} | 3 | ${fanout} | ${clients} |`));
  assert.ok(line !== undefined, `no row for ${protocol} ${shards}/${fanout}/${clients} in ${section}`);
  return line.split('|').slice(1, -1).map((c) => c.trim());
}

describe('bench › report', () => {
  it('writes results.json as the array given, report.md and the charts it links to', () => {
    const results = matrix();
    const written = writeReport(dir, results, META);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')), results);
    assert.deepEqual(new Set(readdirSync(dir)), new Set(written.map((p) => p.slice(dir.length + 1))));
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const text of ['v20.19.0', '2 × Test CPU @ 2.0GHz', '8.0 GiB memory', '`mdlin bench --dir out`', 'skew = 0.99', 'no checker found a violation']) {
      assert.ok(md.includes(text), text);
    }
    for (const section of ['## uniform 10ms', '## edge', '## geo']) assert.ok(md.includes(`${section}\n`), section);
    const charts = linkedCharts(md);
    assert.deepEqual(charts.sort(), [
      'latency-edge-1-s16.svg',
      'latency-geo-1-s16.svg',
      'latency-uniform-10-s16.svg',
      'latency-uniform-10-s4.svg',
      'ratio-edge-1.svg',
      'ratio-geo-1.svg',
      'ratio-uniform-10.svg',
      'throughput-edge-1-s16.svg',
      'throughput-geo-1-s16.svg',
      'throughput-uniform-10-s16.svg',
      'throughput-uniform-10-s4.svg',
    ]);
    const latency = readFileSync(join(dir, 'latency-uniform-10-s4.svg'), 'utf8');
    for (const name of ['Multi-Paxos (1 client)', 'MDL (1 client)', 'Multi-Paxos model', 'MDL model']) assert.ok(latency.includes(`>${name}<`), name);
    const throughput = readFileSync(join(dir, 'throughput-uniform-10-s4.svg'), 'utf8');
    for (const name of ['Multi-Paxos, fanout 16', 'MDL, fanout 1', '>4 clients<']) assert.ok(throughput.includes(name), name);
  });

  it('an MDL row carries its measured p50 ratio to Multi-Paxos and the model ratio', () => {
    writeReport(dir, matrix(), META);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    const mdl = row(md, 'MDL', 16, 16, 1, 'uniform 10ms');
    const paxos = row(md, 'Multi-Paxos', 16, 16, 1, 'uniform 10ms');
    assert.equal(mdl[5], '212', 'p50 = model 210 + 1.5');
    assert.equal(paxos[5], '642');
    assert.equal(mdl[11], '210');
    assert.equal(mdl[12], (211.5 / 641.5).toFixed(2));
    assert.equal(mdl[13], '0.33');
    assert.equal(paxos[12], '', 'no ratio on a Multi-Paxos row');
    const edge = row(md, 'MDL', 16, 16, 1, 'edge');
    assert.equal(edge[11], '285');
    assert.equal(edge[13], '0.10');
    assert.ok(md.includes('One-way link delays: client↔leader 45 ms, leader↔leader 1 ms, leader↔replica 45 ms.'));
    assert.ok(md.includes('### MDL phases (medians, ms)'));
  });

  it('a violation is called out at the top and in bold in its row', () => {
    const results = matrix();
    results[0] = { ...results[0]!, check: 'violation' };
    writeReport(dir, results, META);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(md, /\*\*1 of 32 runs violated their consistency model:\*\* Multi-Paxos uniform 10ms 4 shards fanout 1 clients 1\./);
    assert.equal(row(md, 'Multi-Paxos', 4, 1, 1, 'uniform 10ms')[10], '**violation**');
  });

  it('MDL alone: no ratio chart, blank ratios, the model ratio still shown', () => {
    const results = matrix().filter((r) => r.protocol === 'mdl' && r.topology === 'uniform' && r.shards === 4);
    writeReport(dir, results, META);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.deepEqual(linkedCharts(md).sort(), ['latency-uniform-10-s4.svg', 'throughput-uniform-10-s4.svg']);
    const r = row(md, 'MDL', 4, 4, 1, 'uniform 10ms');
    assert.equal(r[12], '–');
    assert.equal(r[13], (90 / 160).toFixed(2), 'MDL 20 + 40 + 3 × 10 against 4 × 40');
  });

  it('one cell, a custom topology without a model, and no results at all still render', () => {
    const one = [cell('paxos', 'geo', 2, 1, 1, 1)];
    writeReport(dir, one, META);
    assert.equal(linkedCharts(readFileSync(join(dir, 'report.md'), 'utf8')).length, 2);

    const custom: BenchResult[] = [
      { ...cell('paxos', 'uniform', 5, 2, 2, 1), topology: 'custom', model_ms: null },
      { ...cell('mdl', 'uniform', 5, 2, 2, 1), topology: 'custom', model_ms: null, phases_ms: null },
    ];
    writeReport(dir, custom, META);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.ok(md.includes('## custom ×5\n'));
    const r = row(md, 'MDL', 2, 2, 1, 'custom ×5');
    assert.equal(r[11], '–');
    assert.equal(r[13], '–');
    assert.ok(!md.includes('MDL phases'));
    linkedCharts(md);

    writeReport(dir, [], { date: META.date, node: META.node, cpuModel: META.cpuModel, cpuCount: 1 });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')), []);
    assert.ok(readFileSync(join(dir, 'report.md'), 'utf8').includes('No results.'));
  });

  it('formatTable: one aligned line per cell with both protocols side by side', () => {
    const results = matrix();
    results.push({ ...cell('mdl', 'uniform', 10, 4, 8, 1), check: 'unknown' });
    const lines = formatTable(results).split('\n');
    assert.deepEqual(lines[0]!.split(/\s{2,}/), ['topology', 'shards', 'fanout', 'clients', 'paxos p50', 'mdl p50', 'ratio', 'model ratio', 'check']);
    assert.equal(lines.length, 1 + 12 + 2 + 2 + 1);
    const at = (topology: string, shards: number, fanout: number, clients: number): string[] => {
      const l = lines.find((x) => x.split(/\s{2,}/).slice(0, 4).join('|') === `${topology}|${shards}|${fanout}|${clients}`);
      assert.ok(l !== undefined, `${topology} ${shards} ${fanout} ${clients}`);
      return l.split(/\s{2,}/);
    };
    assert.deepEqual(at('uniform 10ms', 16, 16, 1), ['uniform 10ms', '16', '16', '1', '642', '212', (211.5 / 641.5).toFixed(2), '0.33', 'ok']);
    assert.deepEqual(at('edge', 16, 16, 1).slice(6), [(286.5 / 2881.5).toFixed(2), '0.10', 'ok']);
    assert.deepEqual(at('uniform 10ms', 4, 8, 1), ['uniform 10ms', '4', '8', '1', '–', '132', '–', (130 / 320).toFixed(2), 'unknown']);
    assert.equal(new Set(lines.map((l) => l.lastIndexOf('  '))).size, 1, 'the check column starts at one position');
  });

  it('formatTable names both verdicts when they differ', () => {
    const results = [cell('paxos', 'uniform', 10, 4, 4, 1), { ...cell('mdl', 'uniform', 10, 4, 4, 1), check: 'violation' as const }];
    assert.match(formatTable(results), /paxos:ok mdl:violation$/);
  });
});
