import { applyEdits, modify, parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import type { FileFormat } from './clientSpec.js';

/**
 * A client's config file, edited in place: read a value at a key path, set one, find an item in
 * a list, and give back the text. JSON (with or without comments) and YAML keep every comment
 * and the formatting of everything we did not touch; TOML is appended to when that is enough and
 * otherwise rewritten, which drops comments — `commentsDropped` says so, so the caller can tell.
 */
export interface ConfigDocument {
  get(path: readonly (string | number)[]): unknown;
  set(path: readonly (string | number)[], value: unknown): void;
  /** Append to the list at path (created when absent). */
  append(path: readonly string[], value: unknown): void;
  text(): string;
  readonly commentsDropped: boolean;
}

export class ConfigFileError extends Error {}

const FORMATTING = { insertSpaces: true, tabSize: 2, eol: '\n' };

/** Open a document of the format; undefined or blank text is a new, empty file. */
export function openDocument(format: FileFormat, text: string | undefined): ConfigDocument {
  const body = (text ?? '').replace(/^\uFEFF/, '');
  switch (format) {
    case 'json':
      return jsonDocument(body);
    case 'toml':
      return tomlDocument(body);
    case 'yaml':
      return yamlDocument(body);
  }
}

function walk(root: unknown, path: readonly (string | number)[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

/** The nearest value on the path that is present but not an object (so the path cannot be created). */
function blockingScalar(root: unknown, path: readonly (string | number)[]): string | undefined {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    if (node === undefined) return undefined;
    if (node === null || typeof node !== 'object') return path.slice(0, i).join('.');
    node = (node as Record<string | number, unknown>)[path[i]!];
  }
  if (node !== undefined && (node === null || typeof node !== 'object')) return path.join('.');
  return undefined;
}

function jsonDocument(initial: string): ConfigDocument {
  let text = initial.trim() === '' ? '{}\n' : initial;
  const errors: ParseError[] = [];
  const root: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    throw new ConfigFileError(`it is not valid JSON (${printParseErrorCode(errors[0]!.error)} at offset ${errors[0]!.offset})`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new ConfigFileError('it does not hold a JSON object');
  const current = (): unknown => parseJsonc(text, [], { allowTrailingComma: true });
  const edit = (path: readonly (string | number)[], value: unknown, isArrayInsertion = false): void => {
    const blocked = blockingScalar(current(), path.slice(0, -1));
    if (blocked) throw new ConfigFileError(`its "${blocked}" is not a JSON object`);
    text = applyEdits(text, modify(text, [...path], value, { formattingOptions: FORMATTING, isArrayInsertion }));
  };
  return {
    get: (path) => walk(current(), path),
    set: (path, value) => edit(path, value),
    append: (path, value) => {
      const list = walk(current(), path);
      if (list !== undefined && !Array.isArray(list)) throw new ConfigFileError(`its "${path.join('.')}" is not a list`);
      if (list === undefined) edit(path, [value]);
      else edit([...path, list.length], value, true);
    },
    text: () => (text.endsWith('\n') ? text : `${text}\n`),
    commentsDropped: false,
  };
}

function tomlDocument(initial: string): ConfigDocument {
  let root: Record<string, unknown>;
  try {
    root = initial.trim() === '' ? {} : (parseToml(initial) as Record<string, unknown>);
  } catch (err) {
    throw new ConfigFileError(`it is not valid TOML (${(err as Error).message.split('\n')[0]})`);
  }
  const original = structuredClone(root);
  const changes: { path: readonly (string | number)[]; value: unknown }[] = [];
  let dropped = false;
  const set = (path: readonly (string | number)[], value: unknown): void => {
    const blocked = blockingScalar(root, path.slice(0, -1));
    if (blocked) throw new ConfigFileError(`its "${blocked}" is not a table`);
    let node = root as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) {
      if (node[key] === undefined) node[key] = {};
      node = node[key] as Record<string | number, unknown>;
    }
    node[path[path.length - 1]!] = value;
    changes.push({ path, value });
  };
  return {
    get: (path) => walk(root, path),
    set,
    append: (path, value) => {
      const list = walk(root, path);
      set(path, [...(Array.isArray(list) ? list : []), value]);
    },
    text: () => {
      if (changes.length === 0) return initial;
      // A new table under a key the file does not have yet: append it, and the rest of the file
      // (comments included) stays as it was. Checked by parsing the result back.
      const appendable = changes.every((c) => walk(original, c.path) === undefined);
      if (appendable) {
        const added: Record<string, unknown> = {};
        for (const c of changes) {
          let node = added as Record<string | number, unknown>;
          for (const key of c.path.slice(0, -1)) node = (node[key] ??= {}) as Record<string | number, unknown>;
          node[c.path[c.path.length - 1]!] = c.value;
        }
        const candidate = `${initial.trimEnd()}${initial.trim() ? '\n\n' : ''}${stringifyToml(added)}\n`;
        try {
          if (JSON.stringify(parseToml(candidate)) === JSON.stringify(root)) return candidate;
        } catch {
          // e.g. the file has an inline `mcp_servers = {…}` table, which cannot be extended: rewrite.
        }
      }
      dropped = /(^|\n)\s*#|[^"'\n]#/.test(initial);
      return `${stringifyToml(root)}\n`;
    },
    get commentsDropped() {
      return dropped;
    },
  };
}

function yamlDocument(initial: string): ConfigDocument {
  const doc: Document = parseDocument(initial.trim() === '' ? '{}\n' : initial, { keepSourceTokens: false });
  if (doc.errors.length > 0) throw new ConfigFileError(`it is not valid YAML (${doc.errors[0]!.message.split('\n')[0]})`);
  if (doc.contents !== null && !isMap(doc.contents)) throw new ConfigFileError('it does not hold a YAML mapping');
  const toJs = (): unknown => doc.toJS();
  const check = (path: readonly (string | number)[]): void => {
    const blocked = blockingScalar(toJs(), path);
    if (blocked) throw new ConfigFileError(`its "${blocked}" is not a mapping`);
  };
  return {
    get: (path) => walk(toJs(), path),
    set: (path, value) => {
      check(path.slice(0, -1));
      doc.setIn([...path], doc.createNode(value));
    },
    append: (path, value) => {
      const list = doc.getIn([...path]);
      if (list !== undefined && list !== null && !isSeq(list)) throw new ConfigFileError(`its "${path.join('.')}" is not a list`);
      check(path.slice(0, -1));
      if (list === undefined || list === null) doc.setIn([...path], doc.createNode([value]));
      else doc.addIn([...path], doc.createNode(value));
    },
    text: () => doc.toString({ lineWidth: 0 }),
    commentsDropped: false,
  };
}

/** Structural equality of JSON-like values (key order ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b as object, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
