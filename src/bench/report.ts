/**
 * What `mdlin bench` leaves behind: `results.json` (every cell, the machine-readable contract),
 * and `report.md` with SVG charts beside it for a person: tables per topology, median latency
 * against fanout next to the latency model, MDL's latency as a fraction of Multi-Paxos's, and
 * throughput against latency as clients are added. Also the compact table printed at the end of
 * a run. Any subset of the matrix renders: a chart with nothing to show is not written, and a
 * ratio with no Multi-Paxos twin to divide by is left blank.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isTopologyName, modelLatencyMs, topologyDelaysMs, type Protocol } from './model.js';
import { renderChart, PALETTE, type ChartSeries } from './svg.js';

/** One cell of the benchmark matrix: one run of one protocol in one configuration. */
export interface BenchResult {
  protocol: 'paxos' | 'mdl';
  shards: number;
  replicas: number;
  fanout: number;
  clients: number;
  topology: 'uniform' | 'edge' | 'geo' | 'custom';
  /** The preset's base one-way delay T (or scale). */
  delay_ms: number;
  /** Measured window, warm-up and cool-down excluded. */
  duration_s: number;
  /** Application requests completed in the window. */
  requests: number;
  operations: number;
  /** Requests per second. */
  throughput_rps: number;
  latency_ms: { p50: number; p90: number; p99: number; mean: number; max: number };
  check: 'ok' | 'violation' | 'unknown' | 'skipped';
  errors: { fail: number; unknown: number };
  /** MDL per-phase medians, when available. */
  phases_ms?: { pending: number; committed: number; coordinated: number; ordered: number } | null;
  /** The latency model's prediction for this cell (see model.ts). */
  model_ms?: number | null;
}

/** Where and how the run happened; gathered by the caller, so this module does no probing. */
export interface ReportMeta {
  /** ISO 8601. */
  date: string;
  /** e.g. `v20.19.0`. */
  node: string;
  cpuModel: string;
  cpuCount: number;
  platform?: string;
  memoryBytes?: number;
  /** The command line that produced the results. */
  command?: string;
  /** Run settings worth recording (duration, warm-up, key count, skew, seed …). */
  settings?: Readonly<Record<string, string | number | boolean>>;
}

const PROTOCOL_NAMES: Readonly<Record<Protocol, string>> = { paxos: 'Multi-Paxos', mdl: 'MDL' };
const PROTOCOL_COLORS: Readonly<Record<Protocol, string>> = { paxos: PALETTE[1]!, mdl: PALETTE[0]! };
const PROTOCOLS: readonly Protocol[] = ['paxos', 'mdl'];

/**
 * Writes `dir/results.json`, `dir/report.md` and the charts it shows (`dir/*.svg`), creating
 * `dir` if needed. Returns the paths written.
 */
export function writeReport(dir: string, results: readonly BenchResult[], meta: ReportMeta): string[] {
  mkdirSync(dir, { recursive: true });
  const files: Array<{ name: string; text: string }> = [{ name: 'results.json', text: `${JSON.stringify(results, null, 2)}\n` }];
  const charts: Array<{ name: string; text: string }> = [];
  const markdown = reportMarkdown(results, meta, charts);
  files.push(...charts, { name: 'report.md', text: markdown });
  return files.map((f) => {
    const path = join(dir, f.name);
    writeFileSync(path, f.text);
    return path;
  });
}

/**
 * A plain-text table for the terminal: one row per cell with both protocols side by side, the
 * measured MDL/Multi-Paxos p50 ratio and the model's.
 */
export function formatTable(results: readonly BenchResult[]): string {
  const header = ['topology', 'shards', 'fanout', 'clients', 'paxos p50', 'mdl p50', 'ratio', 'model ratio', 'check'];
  const rows: string[][] = [];
  for (const setting of settings(results)) {
    for (const cell of cellsOf(setting.results)) {
      const paxos = cell.byProtocol.paxos;
      const mdl = cell.byProtocol.mdl;
      const any = paxos ?? mdl;
      if (any === undefined) continue;
      rows.push([
        setting.label,
        String(cell.shards),
        String(cell.fanout),
        String(cell.clients),
        paxos === undefined ? '–' : formatMs(paxos.latency_ms.p50),
        mdl === undefined ? '–' : formatMs(mdl.latency_ms.p50),
        formatRatio(measuredRatio(paxos, mdl)),
        formatRatio(modelRatioOf(any, results)),
        checkSummary(paxos, mdl),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Results of one topology at one delay (or scale): the unit a table and a set of charts cover. */
interface Setting {
  topology: BenchResult['topology'];
  delayMs: number;
  label: string;
  slug: string;
  results: BenchResult[];
}

/** Both protocols' runs of one (shards, fanout, clients) within a setting. */
interface Cell {
  shards: number;
  fanout: number;
  clients: number;
  byProtocol: Partial<Record<Protocol, BenchResult>>;
}

function settings(results: readonly BenchResult[]): Setting[] {
  const byKey = new Map<string, Setting>();
  for (const r of results) {
    const key = `${r.topology}/${r.delay_ms}`;
    let s = byKey.get(key);
    if (s === undefined) {
      s = { topology: r.topology, delayMs: r.delay_ms, label: settingLabel(r.topology, r.delay_ms), slug: `${r.topology}-${String(r.delay_ms).replace('.', 'p')}`, results: [] };
      byKey.set(key, s);
    }
    s.results.push(r);
  }
  const order: Record<BenchResult['topology'], number> = { uniform: 0, edge: 1, geo: 2, custom: 3 };
  return [...byKey.values()].sort((a, b) => order[a.topology] - order[b.topology] || a.delayMs - b.delayMs);
}

function settingLabel(topology: BenchResult['topology'], delayMs: number): string {
  if (topology === 'uniform') return `uniform ${delayMs}ms`;
  return delayMs === 1 ? topology : `${topology} ×${delayMs}`;
}

/** Cells sorted by shards, fanout, clients. A repeated run of a cell: the first one counts. */
function cellsOf(results: readonly BenchResult[]): Cell[] {
  const byKey = new Map<string, Cell>();
  for (const r of results) {
    const key = `${r.shards}/${r.fanout}/${r.clients}`;
    let cell = byKey.get(key);
    if (cell === undefined) {
      cell = { shards: r.shards, fanout: r.fanout, clients: r.clients, byProtocol: {} };
      byKey.set(key, cell);
    }
    cell.byProtocol[r.protocol] ??= r;
  }
  return [...byKey.values()].sort((a, b) => a.shards - b.shards || a.fanout - b.fanout || a.clients - b.clients);
}

function twinOf(r: BenchResult, protocol: Protocol, results: readonly BenchResult[]): BenchResult | undefined {
  if (r.protocol === protocol) return r;
  return results.find(
    (o) =>
      o.protocol === protocol &&
      o.topology === r.topology &&
      o.delay_ms === r.delay_ms &&
      o.shards === r.shards &&
      o.fanout === r.fanout &&
      o.clients === r.clients,
  );
}

/** The model's latency for `protocol` in r's configuration: as recorded, else computed for a preset. */
function modelMsOf(r: BenchResult, protocol: Protocol, results: readonly BenchResult[]): number | null {
  const recorded = twinOf(r, protocol, results)?.model_ms;
  if (recorded !== undefined && recorded !== null) return recorded;
  return isTopologyName(r.topology) ? modelLatencyMs(protocol, r.fanout, r.topology, r.delay_ms, r.shards) : null;
}

function modelRatioOf(r: BenchResult, results: readonly BenchResult[]): number | null {
  const mdl = modelMsOf(r, 'mdl', results);
  const paxos = modelMsOf(r, 'paxos', results);
  return mdl === null || paxos === null || paxos <= 0 ? null : mdl / paxos;
}

function measuredRatio(paxos: BenchResult | undefined, mdl: BenchResult | undefined): number | null {
  if (paxos === undefined || mdl === undefined || paxos.latency_ms.p50 <= 0) return null;
  return mdl.latency_ms.p50 / paxos.latency_ms.p50;
}

function checkSummary(paxos: BenchResult | undefined, mdl: BenchResult | undefined): string {
  if (paxos === undefined || mdl === undefined || paxos.check === mdl.check) return (paxos ?? mdl)?.check ?? '–';
  return `paxos:${paxos.check} mdl:${mdl.check}`;
}

function formatMs(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function formatRatio(v: number | null): string {
  return v === null ? '–' : v.toFixed(2);
}

function formatOptionalMs(v: number | null): string {
  return v === null ? '–' : formatMs(v);
}

function formatRate(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/** The Markdown report; the charts it links to are pushed onto `charts`. */
function reportMarkdown(results: readonly BenchResult[], meta: ReportMeta, charts: Array<{ name: string; text: string }>): string {
  const md: string[] = ['# mdlin benchmark: MDL against Multi-Paxos', ''];
  md.push(...metaLines(meta), '');
  md.push(
    'Each cell runs one protocol on a local cluster. A request is one application request of `fanout` operations,',
    'placed on different shards where there are enough: Multi-Paxos clients send them one after another',
    '(single-dispatch), MDL clients all at once (multi-dispatch). Latencies are per request, measured at the client',
    'over the measured window (warm-up and cool-down excluded). *ratio* is MDL p50 / Multi-Paxos p50 in the same',
    'cell; *model* is the prediction of PROTOCOLS.md §5 from link delays alone (Multi-Paxos N × (2·client↔leader +',
    '2·leader↔replica); MDL 2·client↔leader + 4·leader↔replica + (N − 1)·leader↔leader, the last term 0 on one',
    'shard, or one round when N = 1).',
    '*check* is the history checker’s verdict (linearizability for Multi-Paxos, MDL for MDL).',
    '',
  );
  if (results.length === 0) {
    md.push('No results.', '');
    return md.join('\n');
  }
  const bad = results.filter((r) => r.check === 'violation');
  md.push(
    bad.length === 0
      ? `${results.length} runs; no checker found a violation.`
      : `**${bad.length} of ${results.length} runs violated their consistency model:** ${bad.map((r) => `${PROTOCOL_NAMES[r.protocol]} ${settingLabel(r.topology, r.delay_ms)} ${r.shards} shards fanout ${r.fanout} clients ${r.clients}`).join('; ')}.`,
    '',
  );
  for (const setting of settings(results)) {
    md.push(`## ${setting.label}`, '');
    if (isTopologyName(setting.topology)) {
      const d = topologyDelaysMs(setting.topology, setting.delayMs);
      md.push(`One-way link delays: client↔leader ${d.clientLeader} ms, leader↔leader ${d.leaderLeader} ms, leader↔replica ${d.leaderReplica} ms.`, '');
    }
    md.push(...settingTable(setting, results), '');
    md.push(...phaseTable(setting));
    const chartNames = settingCharts(setting, results, charts);
    if (chartNames.length > 0) {
      md.push('### Charts', '');
      for (const c of chartNames) md.push(`![${c.alt}](${c.name})`, '');
    }
  }
  return md.join('\n');
}

function metaLines(meta: ReportMeta): string[] {
  const machine = [`${meta.cpuCount} × ${meta.cpuModel}`];
  if (meta.memoryBytes !== undefined) machine.push(`${(meta.memoryBytes / 2 ** 30).toFixed(1)} GiB memory`);
  if (meta.platform !== undefined) machine.push(meta.platform);
  const lines = [`- Date: ${meta.date}`, `- Node: ${meta.node}`, `- Machine: ${machine.join(', ')}`];
  if (meta.command !== undefined) lines.push(`- Command: \`${meta.command}\``);
  if (meta.settings !== undefined && Object.keys(meta.settings).length > 0) {
    lines.push(`- Settings: ${Object.entries(meta.settings).map(([k, v]) => `${k} = ${String(v)}`).join(', ')}`);
  }
  return lines;
}

function settingTable(setting: Setting, results: readonly BenchResult[]): string[] {
  const lines = [
    '| protocol | shards | replicas | fanout | clients | p50 ms | p90 ms | p99 ms | throughput req/s | errors fail/unknown | check | model ms | ratio | model ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const cell of cellsOf(setting.results)) {
    for (const protocol of PROTOCOLS) {
      const r = cell.byProtocol[protocol];
      if (r === undefined) continue;
      const ratio = protocol === 'mdl' ? formatRatio(measuredRatio(cell.byProtocol.paxos, r)) : '';
      const modelRatio = protocol === 'mdl' ? formatRatio(modelRatioOf(r, results)) : '';
      const l = r.latency_ms;
      lines.push(
        `| ${PROTOCOL_NAMES[protocol]} | ${r.shards} | ${r.replicas} | ${r.fanout} | ${r.clients} | ${formatMs(l.p50)} | ${formatMs(l.p90)} | ${formatMs(l.p99)} | ${formatRate(r.throughput_rps)} | ${r.errors.fail}/${r.errors.unknown} | ${r.check === 'violation' ? '**violation**' : r.check} | ${formatOptionalMs(modelMsOf(r, protocol, results))} | ${ratio} | ${modelRatio} |`,
      );
    }
  }
  return lines;
}

function phaseTable(setting: Setting): string[] {
  const rows = setting.results.filter((r) => r.protocol === 'mdl' && r.phases_ms !== undefined && r.phases_ms !== null);
  if (rows.length === 0) return [];
  const lines = [
    '### MDL phases (medians, ms)',
    '',
    '| shards | fanout | clients | pending | committed | coordinated | ordered |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const cell of cellsOf(rows)) {
    const p = cell.byProtocol.mdl?.phases_ms;
    if (p === undefined || p === null) continue;
    lines.push(`| ${cell.shards} | ${cell.fanout} | ${cell.clients} | ${formatMs(p.pending)} | ${formatMs(p.committed)} | ${formatMs(p.coordinated)} | ${formatMs(p.ordered)} |`);
  }
  lines.push('');
  return lines;
}

function distinct(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Fanouts spanning a factor of 4 or more read best on a log axis, ticked at the fanouts run. */
function fanoutAxis(fanouts: readonly number[]): { logX: boolean; xTicks: number[] } {
  const f = distinct(fanouts);
  return { logX: f.length > 1 && f[f.length - 1]! / f[0]! >= 4, xTicks: f };
}

/** Renders a setting's charts into `charts`; returns the ones made, in reading order. */
function settingCharts(
  setting: Setting,
  results: readonly BenchResult[],
  charts: Array<{ name: string; text: string }>,
): Array<{ name: string; alt: string }> {
  const made: Array<{ name: string; alt: string }> = [];
  const add = (name: string, alt: string, series: ChartSeries[], render: (series: ChartSeries[]) => string): void => {
    if (!series.some((s) => s.points.length > 0)) return;
    charts.push({ name, text: render(series) });
    made.push({ name, alt });
  };
  const shardCounts = distinct(setting.results.map((r) => r.shards));

  for (const shards of shardCounts) {
    const rows = setting.results.filter((r) => r.shards === shards);
    const title = `Median latency vs fanout: ${setting.label}, ${shards} shard${shards === 1 ? '' : 's'}`;
    add(`latency-${setting.slug}-s${shards}.svg`, title, latencySeries(rows, results), (series) =>
      renderChart({ title, xLabel: 'fanout (operations per request)', yLabel: 'p50 latency (ms)', series, ...fanoutAxis(rows.map((r) => r.fanout)) }),
    );
  }

  const ratioTitle = `MDL latency / Multi-Paxos latency vs fanout: ${setting.label}`;
  add(`ratio-${setting.slug}.svg`, ratioTitle, ratioSeries(setting, results, shardCounts), (series) =>
    renderChart({ title: ratioTitle, xLabel: 'fanout (operations per request)', yLabel: 'p50 ratio MDL / Multi-Paxos', series, ...fanoutAxis(setting.results.map((r) => r.fanout)) }),
  );

  for (const shards of shardCounts) {
    const rows = setting.results.filter((r) => r.shards === shards);
    const clients = distinct(rows.map((r) => r.clients));
    const title = `Throughput vs latency, clients ${clients.join(', ')}: ${setting.label}, ${shards} shard${shards === 1 ? '' : 's'}`;
    add(`throughput-${setting.slug}-s${shards}.svg`, title, throughputSeries(rows), (series) =>
      renderChart({ title, xLabel: 'throughput (requests/s)', yLabel: 'p50 latency (ms)', series, logX: true, logY: true }),
    );
  }
  return made;
}

/**
 * Per protocol, p50 against fanout at that protocol's smallest client count (the unloaded
 * latency the model predicts), and the model as a dashed line in the same colour.
 */
function latencySeries(rows: readonly BenchResult[], results: readonly BenchResult[]): ChartSeries[] {
  const series: ChartSeries[] = [];
  for (const protocol of PROTOCOLS) {
    const own = rows.filter((r) => r.protocol === protocol);
    if (own.length === 0) continue;
    const clients = Math.min(...own.map((r) => r.clients));
    const cells = cellsOf(own.filter((r) => r.clients === clients)).map((c) => c.byProtocol[protocol]!);
    series.push({
      name: `${PROTOCOL_NAMES[protocol]} (${clients} client${clients === 1 ? '' : 's'})`,
      color: PROTOCOL_COLORS[protocol],
      points: cells.map((r) => ({ x: r.fanout, y: r.latency_ms.p50 })),
    });
    const model = cells.flatMap((r) => {
      const y = modelMsOf(r, protocol, results);
      return y === null ? [] : [{ x: r.fanout, y }];
    });
    if (model.length > 0) series.push({ name: `${PROTOCOL_NAMES[protocol]} model`, color: PROTOCOL_COLORS[protocol], style: 'dashed', points: model });
  }
  return series;
}

/**
 * Per shard count, MDL p50 / Multi-Paxos p50 against fanout at the smallest client count both
 * ran; the model ratio dashed, one line per distinct model curve (one shard differs: its
 * coordination is local), in the colour of the first shard count it belongs to.
 */
function ratioSeries(setting: Setting, results: readonly BenchResult[], shardCounts: readonly number[]): ChartSeries[] {
  const measured: ChartSeries[] = [];
  const models: Array<{ shards: number[]; color: string; points: Array<{ x: number; y: number }> }> = [];
  shardCounts.forEach((shards, i) => {
    const pairs = cellsOf(setting.results.filter((r) => r.shards === shards)).filter(
      (c) => c.byProtocol.paxos !== undefined && c.byProtocol.mdl !== undefined,
    );
    if (pairs.length === 0) return;
    const clients = Math.min(...pairs.map((c) => c.clients));
    const atClients = pairs.filter((c) => c.clients === clients);
    const color = PALETTE[i % PALETTE.length]!;
    measured.push({
      name: `${shards} shard${shards === 1 ? '' : 's'} (${clients} client${clients === 1 ? '' : 's'})`,
      color,
      points: atClients.flatMap((c) => {
        const y = measuredRatio(c.byProtocol.paxos, c.byProtocol.mdl);
        return y === null ? [] : [{ x: c.fanout, y }];
      }),
    });
    const points = atClients.flatMap((c) => {
      const y = modelRatioOf(c.byProtocol.mdl!, results);
      return y === null ? [] : [{ x: c.fanout, y }];
    });
    if (points.length === 0) return;
    const same = models.find((m) => JSON.stringify(m.points) === JSON.stringify(points));
    if (same === undefined) models.push({ shards: [shards], color, points });
    else same.shards.push(shards);
  });
  const modelSeries = models.map(
    (m): ChartSeries => ({
      name: models.length === 1 ? 'model' : `model, ${m.shards.join(', ')} shard${m.shards.length === 1 && m.shards[0] === 1 ? '' : 's'}`,
      color: models.length === 1 ? '#555555' : m.color,
      style: 'dashed',
      points: m.points,
    }),
  );
  return [...measured, ...modelSeries];
}

/**
 * Per protocol × fanout, (throughput, p50) as the client count grows; the last point is labelled
 * with its client count (labelling every point piles them up where curves start). Colour by
 * fanout; MDL solid, Multi-Paxos dotted.
 */
function throughputSeries(rows: readonly BenchResult[]): ChartSeries[] {
  const fanouts = distinct(rows.map((r) => r.fanout));
  const series: ChartSeries[] = [];
  for (const protocol of PROTOCOLS) {
    fanouts.forEach((fanout, i) => {
      const cells = cellsOf(rows.filter((r) => r.protocol === protocol && r.fanout === fanout)).map((c) => c.byProtocol[protocol]!);
      if (cells.length === 0) return;
      series.push({
        name: `${PROTOCOL_NAMES[protocol]}, fanout ${fanout}`,
        color: PALETTE[i % PALETTE.length]!,
        style: protocol === 'mdl' ? 'solid' : 'dotted',
        markers: true,
        points: cells.map((r, j) => {
          const point = { x: r.throughput_rps, y: r.latency_ms.p50 };
          return j === cells.length - 1 && cells.length > 1 ? { ...point, label: `${r.clients} clients` } : point;
        }),
      });
    });
  }
  return series;
}
