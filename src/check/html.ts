/**
 * A self-contained HTML page (no scripts, styles or fonts from elsewhere) that draws a history as
 * a timeline: one row per client, one bar per operation from its call to its return (an
 * operation that never returned runs off the right edge), the operations of a violation
 * highlighted and its explanation on top. Hovering a bar shows the operation.
 */
import type { CheckResult, Model } from './checker.js';
import type { HistoryOp } from './history.js';
import { describeOp } from './report.js';

/** Draw at most this many operations; a larger history is shown around its violation, or from its start. */
const OPS_DRAWN_MAX = 4000;

export function renderHistoryHtml(ops: readonly HistoryOp[], result: CheckResult, model: Model, title: string): string {
  const involved = new Set(result.verdict === 'violation' ? result.report.involved : []);
  const shown = opsToDraw(ops, involved);
  const clients = [...new Set(shown.map((i) => (ops[i] as HistoryOp).client))].sort(byName);
  const start = Math.min(...shown.map((i) => (ops[i] as HistoryOp).call));
  const end = Math.max(...shown.map((i) => (ops[i] as HistoryOp).ret ?? (ops[i] as HistoryOp).call));
  const span = Math.max(1, end - start);
  const at = (t: number) => (100 * (t - start)) / span;

  const rows = clients.map((client) => {
    const bars = shown
      .filter((i) => (ops[i] as HistoryOp).client === client)
      .map((i) => {
        const op = ops[i] as HistoryOp;
        const left = at(op.call);
        const width = op.ret === null ? 100 - left : Math.max(0.15, at(op.ret) - left);
        const classes = ['op', op.status, op.ret === null ? 'open' : '', involved.has(i) ? 'involved' : ''].filter((c) => c !== '').join(' ');
        const label = involved.has(i) ? `<span class="label">${escape(describeOp(op))}</span>` : '';
        const tip = `${describeOp(op)}\ncall ${op.call}, ret ${op.ret ?? 'never'}${op.error !== undefined ? `\n${op.error}` : ''}`;
        return `<div class="${classes}" style="left:${left.toFixed(3)}%;width:${width.toFixed(3)}%" title="${escape(tip)}">${label}</div>`;
      })
      .join('');
    return `<div class="row"><div class="client">${escape(client)}</div><div class="lane">${bars}</div></div>`;
  });

  const verdict = result.verdict;
  const heading =
    verdict === 'ok'
      ? `satisfies ${model}`
      : verdict === 'violation'
        ? `violates ${model}`
        : `unknown under ${model}: ${result.reason}`;
  const story =
    result.verdict === 'violation'
      ? `<p class="summary">${escape(result.report.summary)}</p><ol>${result.report.explanation.map((line) => `<li>${escape(line)}</li>`).join('')}</ol>` +
        `<h2>Operations involved</h2><ul class="ops">${result.report.involved.map((i) => `<li>${escape(describeOp(ops[i] as HistoryOp))}</li>`).join('')}</ul>`
      : '';
  const note = shown.length < ops.length ? `<p class="note">Showing ${shown.length} of ${ops.length} operations${involved.size > 0 ? ', around the violation' : ', from the start'}.</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}: ${escape(heading)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h1 .verdict{padding:.1em .5em;border-radius:.3em;color:#fff}
.v-ok{background:#2a7d3a}.v-violation{background:#b3261e}.v-unknown{background:#6b6b6b}
.summary{font-weight:600}.note{color:#666}.ops{font-family:ui-monospace,monospace}
.timeline{border-top:1px solid #ddd;margin-top:1em}
.row{display:flex;border-bottom:1px solid #eee;height:22px;align-items:center}
.client{width:8em;flex:none;font-family:ui-monospace,monospace;font-size:12px;overflow:hidden;text-overflow:ellipsis}
.lane{position:relative;flex:1;height:100%}
.op{position:absolute;top:5px;height:12px;border-radius:2px;opacity:.75}
.op.ok{background:#4a78c2}.op.fail{background:#d9534f}.op.unknown{background:repeating-linear-gradient(45deg,#999,#999 3px,#ccc 3px,#ccc 6px)}
.op.open{border-right:none;border-radius:2px 0 0 2px}
.op.involved{opacity:1;outline:2px solid #f0a000;z-index:2}
.label{position:absolute;left:100%;top:-3px;margin-left:4px;white-space:nowrap;font-size:11px;font-family:ui-monospace,monospace;background:#fff8e0}
</style></head><body>
<h1>${escape(title)} <span class="verdict v-${verdict}">${escape(heading)}</span></h1>
<p>${ops.length} operations, ${new Set(ops.map((o) => o.client)).size} clients, ${new Set(ops.map((o) => o.key)).size} keys. Time runs left to right, from ${start} to ${end} ns; bars run from call to return; striped: outcome unknown; red: failed.</p>
${story}${note}
<div class="timeline">${rows.join('\n')}</div>
</body></html>
`;
}

/** Indices of the operations to draw: all of them, or a window of at most OPS_DRAWN_MAX around the involved ones (or the first ones). */
function opsToDraw(ops: readonly HistoryOp[], involved: ReadonlySet<number>): number[] {
  const all = ops.map((_, i) => i).sort((a, b) => (ops[a] as HistoryOp).call - (ops[b] as HistoryOp).call);
  if (all.length <= OPS_DRAWN_MAX) return all;
  if (involved.size === 0) return all.slice(0, OPS_DRAWN_MAX);
  const earliest = [...involved].reduce((a, b) => ((ops[b] as HistoryOp).call < (ops[a] as HistoryOp).call ? b : a));
  const center = all.indexOf(earliest);
  const from = Math.max(0, Math.min(center - OPS_DRAWN_MAX / 2, all.length - OPS_DRAWN_MAX));
  const window = new Set(all.slice(from, from + OPS_DRAWN_MAX));
  for (const i of involved) window.add(i);
  return [...window];
}

function byName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
