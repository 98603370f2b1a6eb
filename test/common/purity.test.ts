/**
 * The protocol cores are pure (ARCHITECTURE.md): nothing under src/protocol may touch clocks,
 * randomness, timers, the process, or Node's I/O modules, nor import from outside src/protocol.
 * This makes that a check rather than a hope.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const protocolDir = path.join(root, 'src', 'protocol');

const FORBIDDEN: [RegExp, string][] = [
  [/\bDate\b/, 'Date (time comes from ticks)'],
  [/\bMath\.random\b/, 'Math.random (use the injected Rng)'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'timers (time comes from ticks)'],
  [/\bprocess\./, 'process'],
  [/\bperformance\./, 'performance (clocks)'],
  [/\bconsole\./, 'console output'],
  [/\brequire\(/, 'require'],
];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The source without comments, so prose may mention what code may not use. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('protocol cores are pure', () => {
  const files = sources(protocolDir);

  it('there are protocol sources to check', () => {
    assert.ok(files.length >= 10, `found ${files.length}`);
  });

  for (const file of files) {
    const rel = path.relative(root, file);
    it(`${rel} uses no clock, randomness, timer, process or I/O and imports only from src/protocol`, () => {
      const text = code(fs.readFileSync(file, 'utf8'));
      for (const [pattern, what] of FORBIDDEN) assert.doesNotMatch(text, pattern, `${rel} uses ${what}`);
      for (const m of text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g)) {
        const spec = m[1] as string;
        assert.ok(spec.startsWith('.'), `${rel} imports the package ${spec}`);
        const target = path.resolve(path.dirname(file), spec);
        assert.ok(target.startsWith(protocolDir + path.sep), `${rel} imports ${spec}, outside src/protocol`);
      }
    });
  }
});
