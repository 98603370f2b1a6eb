/**
 * Message schemas: one declaration gives both the TypeScript type of a message (through
 * `Infer`) and the check the transport runs on every decoded frame, so a core never sees a
 * message whose fields are missing or of the wrong type. The bytes themselves are encoded
 * and decoded by the codec library (see src/transport/codec.ts); this module is pure.
 */
export type Field =
  | 'int' // a safe integer
  | 'nat' // a safe integer >= 0
  | 'num' // a finite number
  | 'str'
  | 'bool'
  | 'output' // a KV result: string, boolean or null
  | { readonly nullable: Field }
  | { readonly arr: Field }
  | { readonly obj: Schema }
  /**
   * Rows of `Schema` held column by column: an object with one array per field, all of one
   * length (row i is every column's item i). Arrays of plain values encode, decode and check in
   * a fraction of the time of one object per row.
   */
  | { readonly table: Schema }
  | { readonly enum: readonly string[] };

export type Schema = { readonly [name: string]: Field };

type InferField<F> = F extends 'int' | 'nat' | 'num'
  ? number
  : F extends 'str'
    ? string
    : F extends 'bool'
      ? boolean
      : F extends 'output'
        ? string | boolean | null
        : F extends { readonly nullable: infer G }
          ? InferField<G> | null
          : F extends { readonly arr: infer G }
            ? InferField<G>[]
            : F extends { readonly obj: infer S }
              ? Infer<S>
              : F extends { readonly table: infer S }
                ? { -readonly [K in keyof S]: InferField<S[K]>[] }
                : F extends { readonly enum: readonly (infer E)[] }
                  ? E
                  : never;

export type Infer<S> = { -readonly [K in keyof S]: InferField<S[K]> };

/** A table of message kinds: wire code and field schema per `type`. */
export type MessageTable = { readonly [type: string]: { readonly code: number; readonly schema: Schema } };

/** The message union a table describes: `{ type: K } & fields`. */
export type MessagesOf<T extends MessageTable> = {
  [K in keyof T & string]: { type: K } & Infer<T[K]['schema']>;
}[keyof T & string];

/**
 * Checks `value` against `field`. Returns null when it conforms, otherwise a short
 * description naming the path of the first offending field. The path is built only on the way
 * out of a failure, so checking a conforming message allocates nothing.
 */
export function checkField(field: Field, value: unknown, path: string): string | null {
  const err = fieldProblem(field, value);
  return err === null ? null : `${path}${err.path}: ${err.message}`;
}

export function checkSchema(schema: Schema, value: unknown, path: string): string | null {
  const err = schemaProblem(schema, value);
  if (err === null) return null;
  const where = path === '' ? err.path.replace(/^\./, '') : `${path}${err.path}`;
  return `${where === '' ? '(message)' : where}: ${err.message}`;
}

interface Problem {
  path: string;
  readonly message: string;
}

function fieldProblem(field: Field, value: unknown): Problem | null {
  if (typeof field === 'string') {
    switch (field) {
      case 'int':
        return Number.isSafeInteger(value) ? null : { path: '', message: 'expected an integer' };
      case 'nat':
        return Number.isSafeInteger(value) && (value as number) >= 0 ? null : { path: '', message: 'expected an integer >= 0' };
      case 'num':
        return Number.isFinite(value) ? null : { path: '', message: 'expected a finite number' };
      case 'str':
        return typeof value === 'string' ? null : { path: '', message: 'expected a string' };
      case 'bool':
        return typeof value === 'boolean' ? null : { path: '', message: 'expected a boolean' };
      case 'output':
        return value === null || typeof value === 'string' || typeof value === 'boolean'
          ? null
          : { path: '', message: 'expected a string, boolean or null' };
    }
  }
  if ('nullable' in field) return value === null ? null : fieldProblem(field.nullable, value);
  if ('arr' in field) {
    if (!Array.isArray(value)) return { path: '', message: 'expected an array' };
    for (let i = 0; i < value.length; i++) {
      const err = fieldProblem(field.arr, value[i]);
      if (err !== null) {
        err.path = `[${i}]${err.path}`;
        return err;
      }
    }
    return null;
  }
  if ('obj' in field) return schemaProblem(field.obj, value);
  if ('table' in field) return tableProblem(field.table, value);
  return typeof value === 'string' && field.enum.includes(value)
    ? null
    : { path: '', message: `expected one of ${field.enum.join(', ')}` };
}

function tableProblem(schema: Schema, value: unknown): Problem | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { path: '', message: 'expected an object of columns' };
  const columns = value as Record<string, unknown>;
  let rows = -1;
  for (const name in schema) {
    const column = columns[name];
    if (!Array.isArray(column)) return { path: `.${name}`, message: 'expected an array' };
    if (rows < 0) rows = column.length;
    else if (column.length !== rows) return { path: `.${name}`, message: `expected ${rows} items, like the columns before it` };
    const field = schema[name] as Field;
    for (let i = 0; i < column.length; i++) {
      const err = fieldProblem(field, column[i]);
      if (err !== null) {
        err.path = `.${name}[${i}]${err.path}`;
        return err;
      }
    }
  }
  return null;
}

function schemaProblem(schema: Schema, value: unknown): Problem | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { path: '', message: 'expected an object' };
  const record = value as Record<string, unknown>;
  for (const name in schema) {
    const err = fieldProblem(schema[name] as Field, record[name]);
    if (err !== null) {
      err.path = `.${name}${err.path}`;
      return err;
    }
  }
  return null;
}
