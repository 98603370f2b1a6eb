/**
 * A strict-enough well-formedness check for the SVG the benchmark writes (no DOM parser in Node):
 * one root, balanced and properly nested tags, double-quoted attributes, no stray `<` or `&`.
 */
import assert from 'node:assert/strict';

const TOKEN = /<\?xml[^?]*\?>|<(\/?)([A-Za-z][\w:-]*)((?:\s+[A-Za-z][\w:-]*="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
const ENTITY = /&(#\d+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);/g;

/** Asserts `text` is well-formed XML; returns the element names in document order. */
export function assertWellFormedXml(text: string): string[] {
  const open: string[] = [];
  const names: string[] = [];
  let roots = 0;
  for (const m of text.matchAll(TOKEN)) {
    const [, close, name, attrs, selfClose, chars, stray] = m;
    assert.equal(stray, undefined, `stray "<" at ${m.index}: ${text.slice(m.index, m.index + 40)}`);
    if (chars !== undefined) {
      assert.ok(open.length > 0 || chars.trim() === '', `text outside the root: ${chars.slice(0, 40)}`);
      assert.ok(!chars.replace(ENTITY, '').includes('&'), `raw "&" in text: ${chars.slice(0, 40)}`);
      continue;
    }
    if (name === undefined) continue;
    if (attrs !== undefined) assert.ok(!attrs.replace(ENTITY, '').includes('&'), `raw "&" in attributes of <${name}>`);
    if (close === '/') {
      assert.equal(open.pop(), name, `</${name}> closes the wrong element`);
      continue;
    }
    if (open.length === 0) roots++;
    names.push(name);
    if (selfClose !== '/') open.push(name);
  }
  assert.deepEqual(open, [], 'unclosed elements');
  assert.equal(roots, 1, 'exactly one root element');
  return names;
}
