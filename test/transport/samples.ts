/**
 * Sample values built from a schema, so that every message kind in a table is covered by the
 * round-trip tests without a hand-written list that could fall behind the table.
 */
import type { Field, MessageTable, Schema } from '../../src/protocol/common/schema.js';
import type { Message } from '../../src/transport/codec.js';

/** `rich`: every nullable set, arrays of two, extreme numbers; `minimal`: nulls, empty arrays, zeros. */
export type SampleStyle = 'rich' | 'minimal';

export function sampleField(field: Field, style: SampleStyle): unknown {
  if (typeof field === 'string') {
    switch (field) {
      case 'int':
        return style === 'rich' ? -Number.MAX_SAFE_INTEGER : 0;
      case 'nat':
        return style === 'rich' ? Number.MAX_SAFE_INTEGER : 0;
      case 'num':
        return style === 'rich' ? -1234.5678 : 0;
      case 'str':
        return style === 'rich' ? 'héllo wörld ✓ — a string long enough to be bundled' : '';
      case 'bool':
        return style === 'rich';
      case 'output':
        return style === 'rich' ? 'out' : null;
    }
  }
  if ('nullable' in field) return style === 'rich' ? sampleField(field.nullable, style) : null;
  if ('arr' in field) return style === 'rich' ? [sampleField(field.arr, style), sampleField(field.arr, style)] : [];
  if ('obj' in field) return sampleBody(field.obj, style);
  if ('table' in field) {
    const rows = style === 'rich' ? 2 : 0;
    return Object.fromEntries(Object.entries(field.table).map(([name, f]) => [name, Array.from({ length: rows }, () => sampleField(f, style))]));
  }
  return style === 'rich' ? field.enum[field.enum.length - 1] : field.enum[0];
}

export function sampleBody(schema: Schema, style: SampleStyle): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema)) body[name] = sampleField(field, style);
  return body;
}

/** One message of every kind in `table`, in both styles. */
export function sampleMessages(table: MessageTable): { readonly type: string; readonly style: SampleStyle; readonly msg: Message }[] {
  return Object.entries(table).flatMap(([type, { schema }]) =>
    (['rich', 'minimal'] as const).map((style) => ({ type, style, msg: { type, ...sampleBody(schema, style) } })),
  );
}
