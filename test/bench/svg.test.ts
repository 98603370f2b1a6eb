/**
 * Charts are standalone, well-formed SVG with every series named, and never write a non-finite
 * number, whatever the data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderChart, type ChartOptions, type ChartSeries } from '../../src/bench/svg.js';
import { assertWellFormedXml } from './xml.js';

/** Every number in the document: attribute values and text alike. */
function assertFiniteNumbers(svg: string): void {
  assert.doesNotMatch(svg, /NaN|Infinity|undefined/);
  for (const m of svg.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/g)) assert.ok(Number.isFinite(Number(m[0])), m[0]);
}

function render(series: ChartSeries[], extra: Partial<ChartOptions> = {}): string {
  const svg = renderChart({ title: 'Median latency', xLabel: 'fanout', yLabel: 'p50 (ms)', series, ...extra });
  const elements = assertWellFormedXml(svg);
  assert.equal(elements[0], 'svg');
  assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assertFiniteNumbers(svg);
  return svg;
}

const fanouts = [1, 2, 4, 8, 16, 32];

describe('bench › svg charts', () => {
  it('a line chart names every series, draws each as a polyline, and dashes the model', () => {
    const svg = render(
      [
        { name: 'Multi-Paxos', points: fanouts.map((n) => ({ x: n, y: 40 * n })) },
        { name: 'MDL', points: fanouts.map((n) => ({ x: n, y: 50 + 10 * n })) },
        { name: 'MDL model', style: 'dashed', points: fanouts.map((n) => ({ x: n, y: 50 + 10 * (n - 1) })) },
      ],
      { logX: true, xTicks: fanouts },
    );
    for (const name of ['Multi-Paxos', 'MDL', 'MDL model', 'Median latency', 'fanout (log scale)', 'p50 (ms)']) assert.ok(svg.includes(`>${name}<`), name);
    assert.equal(svg.match(/<polyline /g)?.length, 3);
    assert.equal(svg.match(/<polyline [^>]*stroke-dasharray/g)?.length, 1);
    for (const n of fanouts) assert.ok(svg.includes(`text-anchor="middle">${n}</text>`), `x tick ${n}`);
  });

  it('points land inside the plot area, larger values higher up', () => {
    const svg = render([{ name: 'a', points: [{ x: 0, y: 0 }, { x: 10, y: 100 }] }]);
    const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
    assert.equal(circles.length, 2);
    assert.ok(circles[1]!.x > circles[0]!.x && circles[1]!.y < circles[0]!.y);
  });

  it('names and labels are escaped', () => {
    const svg = render([{ name: 'p<50> & "q"', points: [{ x: 1, y: 2, label: '<8c>' }] }], { title: 'a & b' });
    assert.ok(svg.includes('p&#60;50&#62; &#38; &#34;q&#34;'));
    assert.ok(svg.includes('&#60;8c&#62;'));
  });

  it('no series at all: axes and a "no data" note', () => {
    const svg = render([]);
    assert.ok(svg.includes('no data'));
  });

  it('empty series, single points and a flat line still render finitely', () => {
    render([{ name: 'empty', points: [] }]);
    render([{ name: 'one', points: [{ x: 3, y: 7 }] }]);
    const single = render([{ name: 'one dashed', style: 'dashed', points: [{ x: 3, y: 7 }] }]);
    assert.ok(single.includes('<circle'), 'a lone point is visible even when dashed');
    render([{ name: 'flat', points: [{ x: 1, y: 5 }, { x: 2, y: 5 }] }], { yFromZero: false });
    render([{ name: 'zeros', points: [{ x: 0, y: 0 }, { x: 0, y: 0 }] }]);
    render([{ name: 'one', points: [{ x: 3, y: 7 }] }], { logX: true, logY: true, xTicks: [3] });
    render([{ name: 'negative', points: [{ x: -5, y: -2 }, { x: 5, y: 3 }] }]);
  });

  it('non-finite points, and non-positive ones on a log axis, are left out', () => {
    const svg = render(
      [
        { name: 'bad', points: [{ x: Number.NaN, y: 1 }, { x: 1, y: Infinity }, { x: 0, y: 5 }, { x: 2, y: -1 }, { x: 4, y: 8 }] },
      ],
      { logX: true, logY: true },
    );
    assert.equal(svg.match(/<circle /g)?.length, 1);
    render([{ name: 'only bad', points: [{ x: Number.NaN, y: Number.NaN }] }], { logY: true, xTicks: [1, 2] });
  });

  it('a throughput–latency curve is joined in the order given and labels its points', () => {
    const svg = render(
      [{ name: 'MDL, fanout 8', style: 'dotted', markers: true, points: [1, 2, 4, 8].map((c) => ({ x: 100 * Math.min(c, 4), y: 10 * c, label: `${c}c` })) }],
      { xLabel: 'throughput', logY: true },
    );
    for (const c of [1, 2, 4, 8]) assert.ok(svg.includes(`>${c}c<`));
    assert.equal(svg.match(/<circle /g)?.length, 4);
    assert.match(svg, /stroke-dasharray="2 3"/);
  });
});
