/**
 * Small standalone SVG charts for benchmark reports, with no dependencies: a report must open in
 * any browser or Markdown viewer straight from the results directory.
 *
 * One chart kind covers what the report draws: named series of points, each joined by a line in
 * the order given (so a throughput–latency curve can go back on itself) with optional markers and
 * point labels, on linear or logarithmic axes. Whatever the input (no series, empty series, one
 * point, non-finite or, on a log axis, non-positive values), the output contains only finite
 * numbers: unplottable points are left out, and a degenerate range is widened.
 */
import { assert } from '../protocol/common/assert.js';

export interface ChartPoint {
  x: number;
  y: number;
  /** Written next to the point (e.g. the client count on a throughput–latency curve). */
  label?: string;
}

export type LineStyle = 'solid' | 'dashed' | 'dotted';

export interface ChartSeries {
  name: string;
  /** Joined in this order. */
  points: readonly ChartPoint[];
  /** `dashed` is the convention for a model's prediction. Default `solid`. */
  style?: LineStyle;
  /** Any CSS colour; default: the next colour of a colour-blind-safe palette, by series index. */
  color?: string;
  /** Draw a dot at each point. Default: true except for dashed series. A lone point always gets one. */
  markers?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  logX?: boolean;
  logY?: boolean;
  /** Ticks at exactly these x values (e.g. the fanouts measured) instead of computed ones. */
  xTicks?: readonly number[];
  /** On a linear y axis, start at 0 when every value is ≥ 0. Default true. */
  yFromZero?: boolean;
  widthPx?: number;
  heightPx?: number;
}

/** Okabe–Ito, without its yellow (unreadable on white). */
export const PALETTE: readonly string[] = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

const DASH: Readonly<Record<LineStyle, string | null>> = { solid: null, dashed: '7 4', dotted: '2 3' };
const MARGIN = { left: 72, right: 16, top: 40, bottom: 56 };
const LEGEND_ROW_PX = 18;
const CHAR_PX = 7;
const TITLE_CHAR_PX = 9;
const TICKS_WANTED = 6;

interface Axis {
  log: boolean;
  lo: number;
  hi: number;
  ticks: number[];
}

export function renderChart(options: ChartOptions): string {
  const width = options.widthPx ?? 640;
  const height = options.heightPx ?? 400;
  const series = options.series.map((s, i) => ({
    name: s.name,
    style: s.style ?? 'solid',
    color: s.color ?? PALETTE[i % PALETTE.length]!,
    markers: s.markers ?? s.style !== 'dashed',
    points: s.points.filter((p) => plottable(p.x, options.logX) && plottable(p.y, options.logY)),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  // Fixed ticks widen the axis to include them, but only around data: an empty chart keeps its default range.
  const xTicks = xs.length === 0 ? undefined : options.xTicks?.filter((t) => plottable(t, options.logX));
  const xAxis = axis([...xs, ...(xTicks ?? [])], options.logX ?? false, false, xTicks);
  const yAxis = axis(ys, options.logY ?? false, options.yFromZero ?? true, undefined);

  const legendWidth = series.length === 0 ? 0 : 44 + CHAR_PX * Math.max(...series.map((s) => s.name.length));
  const plot = {
    left: MARGIN.left,
    top: MARGIN.top,
    width: Math.max(100, width - MARGIN.left - MARGIN.right - legendWidth),
    height: Math.max(100, height - MARGIN.top - MARGIN.bottom),
  };
  const totalWidth = Math.max(plot.left + plot.width + MARGIN.right + legendWidth, 24 + TITLE_CHAR_PX * options.title.length);
  const totalHeight = Math.max(height, MARGIN.top + series.length * LEGEND_ROW_PX + 8);
  const px = (v: number): number => plot.left + fraction(xAxis, v) * plot.width;
  const py = (v: number): number => plot.top + (1 - fraction(yAxis, v)) * plot.height;

  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(totalWidth)}" height="${n(totalHeight)}" viewBox="0 0 ${n(totalWidth)} ${n(totalHeight)}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect x="0" y="0" width="${n(totalWidth)}" height="${n(totalHeight)}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  const bottom = plot.top + plot.height;
  for (const t of xAxis.ticks) {
    const x = px(t);
    out.push(
      `<line x1="${n(x)}" y1="${n(plot.top)}" x2="${n(x)}" y2="${n(bottom)}" stroke="#e4e4e4"/>`,
      `<line x1="${n(x)}" y1="${n(bottom)}" x2="${n(x)}" y2="${n(bottom + 5)}" stroke="#333333"/>`,
      `<text x="${n(x)}" y="${n(bottom + 18)}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`,
    );
  }
  for (const t of yAxis.ticks) {
    const y = py(t);
    out.push(
      `<line x1="${n(plot.left)}" y1="${n(y)}" x2="${n(plot.left + plot.width)}" y2="${n(y)}" stroke="#e4e4e4"/>`,
      `<line x1="${n(plot.left - 5)}" y1="${n(y)}" x2="${n(plot.left)}" y2="${n(y)}" stroke="#333333"/>`,
      `<text x="${n(plot.left - 8)}" y="${n(y + 4)}" text-anchor="end">${escapeXml(formatTick(t))}</text>`,
    );
  }
  out.push(
    `<rect x="${n(plot.left)}" y="${n(plot.top)}" width="${n(plot.width)}" height="${n(plot.height)}" fill="none" stroke="#333333"/>`,
    `<text x="${n(plot.left + plot.width / 2)}" y="${n(bottom + 42)}" text-anchor="middle">${escapeXml(options.xLabel + (xAxis.log ? ' (log scale)' : ''))}</text>`,
    `<text x="18" y="${n(plot.top + plot.height / 2)}" text-anchor="middle" transform="rotate(-90 18 ${n(plot.top + plot.height / 2)})">${escapeXml(options.yLabel + (yAxis.log ? ' (log scale)' : ''))}</text>`,
  );
  if (xs.length === 0) {
    out.push(`<text x="${n(plot.left + plot.width / 2)}" y="${n(plot.top + plot.height / 2)}" text-anchor="middle" fill="#888888">no data</text>`);
  }

  for (const s of series) {
    const dash = DASH[s.style];
    const dashAttr = dash === null ? '' : ` stroke-dasharray="${dash}"`;
    const coords = s.points.map((p) => `${n(px(p.x))},${n(py(p.y))}`);
    const group = [`<g>`, `<title>${escapeXml(s.name)}</title>`];
    if (coords.length >= 2) {
      group.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="2"${dashAttr}/>`);
    }
    if (s.markers || s.points.length === 1) {
      for (const p of s.points) group.push(`<circle cx="${n(px(p.x))}" cy="${n(py(p.y))}" r="3.5" fill="${escapeXml(s.color)}"/>`);
    }
    for (const p of s.points) {
      if (p.label === undefined) continue;
      group.push(`<text x="${n(px(p.x) + 6)}" y="${n(py(p.y) - 6)}" font-size="10" fill="#555555">${escapeXml(p.label)}</text>`);
    }
    group.push('</g>');
    out.push(group.join(''));
  }

  const legendX = plot.left + plot.width + MARGIN.right;
  series.forEach((s, i) => {
    const y = plot.top + 8 + i * LEGEND_ROW_PX;
    const dash = DASH[s.style];
    const dashAttr = dash === null ? '' : ` stroke-dasharray="${dash}"`;
    out.push(
      `<line x1="${n(legendX)}" y1="${n(y)}" x2="${n(legendX + 28)}" y2="${n(y)}" stroke="${escapeXml(s.color)}" stroke-width="2"${dashAttr}/>`,
      `<text x="${n(legendX + 36)}" y="${n(y + 4)}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}

function plottable(v: number, log: boolean | undefined): boolean {
  return Number.isFinite(v) && (!log || v > 0);
}

/** Where `v` falls along the axis, 0 at its low end and 1 at its high end. */
function fraction(a: Axis, v: number): number {
  return a.log ? (Math.log(v) - Math.log(a.lo)) / (Math.log(a.hi) - Math.log(a.lo)) : (v - a.lo) / (a.hi - a.lo);
}

/** An axis covering `values` (all plottable on it), with a non-empty range and ticks inside it. */
function axis(values: readonly number[], log: boolean, fromZero: boolean, fixedTicks: readonly number[] | undefined): Axis {
  let lo = values.length === 0 ? (log ? 1 : 0) : Math.min(...values);
  let hi = values.length === 0 ? (log ? 10 : 1) : Math.max(...values);
  if (log) {
    if (hi / lo < 1.5) {
      lo /= 1.5;
      hi *= 1.5;
    }
    const pad = Math.pow(hi / lo, 0.04);
    lo /= pad;
    hi *= pad;
    return { log, lo, hi, ticks: fixedTicks !== undefined && fixedTicks.length > 0 ? [...fixedTicks] : logTicks(lo, hi) };
  }
  if (fromZero && lo >= 0) lo = 0;
  if (hi === lo) {
    const half = lo === 0 ? 1 : Math.abs(lo) / 2;
    hi += half;
    lo = fromZero && lo >= 0 ? Math.max(0, lo - half) : lo - half;
  }
  if (fixedTicks !== undefined && fixedTicks.length > 0) {
    const pad = (hi - lo) * 0.04;
    return { log, lo: lo - pad, hi: hi + pad, ticks: [...fixedTicks] };
  }
  const step = niceStep((hi - lo) / (TICKS_WANTED - 1));
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step / 2; i++) ticks.push(lo + i * step);
  return { log, lo, hi, ticks };
}

/** 1, 2 or 5 times a power of ten, at least `rough`. */
function niceStep(rough: number): number {
  assert(rough > 0 && Number.isFinite(rough), `an axis step must be finite and positive, got ${rough}`);
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  for (const m of [1, 2, 5]) if (m * power >= rough) return m * power;
  return 10 * power;
}

/** 1-2-5 ticks within [lo, hi], thinned to powers of ten when there are too many. */
function logTicks(lo: number, hi: number): number[] {
  const all: Array<{ value: number; power: boolean }> = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const value = Number((m * Math.pow(10, e)).toPrecision(6));
      if (value >= lo && value <= hi) all.push({ value, power: m === 1 });
    }
  }
  const kept = all.length > 2 * TICKS_WANTED ? all.filter((t) => t.power) : all;
  return kept.map((t) => t.value);
}

function formatTick(v: number): string {
  return String(Number(v.toPrecision(10)));
}

/** A coordinate as written: finite (asserted, so NaN or Infinity can never reach a file), 2 decimals. */
function n(v: number): string {
  assert(Number.isFinite(v), `an SVG coordinate must be finite, got ${v}`);
  return String(Math.round(v * 100) / 100);
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
