/**
 * Where a process's time went, from a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile`
 * per process at exit): self time per function and per source file, busiest first, and the
 * share the process spent idle. Used by `npm run bench -- paxos --profile DIR` on the leader.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  readonly name: string;
  readonly ms: number;
  /** Of the busy (non-idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly functions: ProfileLine[];
  readonly files: ProfileLine[];
}

/** A source location people recognise: this project's files relative to dist, node's and packages' by name. */
function fileOf(url: string): string {
  if (url === '') return '(native)';
  const own = /\/dist[^/]*\/(src\/.*)$/.exec(url);
  if (own !== null) return own[1] as string;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return `package ${pkg[1]}`;
  return url.replace(/^file:\/\//, '');
}

function top(byName: Map<string, number>, busyMs: number, count: number): ProfileLine[] {
  return [...byName]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

export function summarizeProfile(file: string, count = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (const [id, ms] of selfMs) {
    const frame = (nodes.get(id) as ProfileNode).callFrame;
    totalMs += ms;
    if (frame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const where = fileOf(frame.url);
    const name = frame.url === '' ? frame.functionName : `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
    const key = frame.url === '' ? frame.functionName : where;
    files.set(key, (files.get(key) ?? 0) + ms);
  }
  const busyMs = totalMs - idleMs;
  return { totalMs, idleMs, functions: top(functions, busyMs, count), files: top(files, busyMs, count) };
}

export function formatProfile(s: ProfileSummary): string {
  const busy = s.totalMs - s.idleMs;
  const lines = [`${(busy / 1000).toFixed(1)} s busy of ${(s.totalMs / 1000).toFixed(1)} s profiled (${((100 * busy) / Math.max(1, s.totalMs)).toFixed(0)} %)`];
  const table = (title: string, rows: readonly ProfileLine[]): void => {
    lines.push(title);
    for (const r of rows) lines.push(`  ${(100 * r.share).toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`);
  };
  table('self time by file or category (share of busy time):', s.files);
  table('self time by function:', s.functions);
  return lines.join('\n');
}
