import { stringify as stringifyToml } from 'smol-toml';
import { stringify as stringifyYaml } from 'yaml';
import type { ClientLocation, ClientSpec, ConfigScope, EntryInput } from './clientSpec.js';
import { ConfigFileError, sameValue, type ConfigDocument } from './configDocument.js';

/** What mergeClientEntry did to the document. */
export type MergeOutcome = { action: 'added' | 'replaced' | 'unchanged' } | { action: 'conflict'; existing: unknown };

export interface MergeInput {
  spec: ClientSpec;
  input: EntryInput;
  loc: ClientLocation;
  scope: ConfigScope;
  /** Replace a different entry of the same name. */
  force: boolean;
  /** The file does not exist yet (the client's skeleton goes in first). */
  newFile: boolean;
}

/**
 * Put our entry into a client's document, keeping everything else: an identical entry is left
 * alone, a different one of the same name is a conflict unless forced. Items the entry refers to
 * (VS Code's password inputs) are added when missing.
 */
export function mergeClientEntry(doc: ConfigDocument, m: MergeInput): MergeOutcome {
  const { spec, input } = m;
  const entry = spec.entry(input);
  const place = spec.place(input.name, m.loc, m.scope);
  let outcome: MergeOutcome['action'];
  if (m.newFile && spec.skeleton) {
    for (const [key, value] of Object.entries(spec.skeleton(input, m.scope))) doc.set([key], value);
  }
  if (place.kind === 'map') {
    const previous = doc.get(place.path);
    if (previous !== undefined && !sameValue(previous, entry) && !m.force) return { action: 'conflict', existing: previous };
    outcome = previous === undefined ? 'added' : sameValue(previous, entry) ? 'unchanged' : 'replaced';
    if (outcome !== 'unchanged') doc.set(place.path, entry);
  } else {
    const list = doc.get(place.path);
    if (list !== undefined && !Array.isArray(list)) throw new ConfigFileError(`its "${place.path.join('.')}" is not a list`);
    const items = (list as unknown[] | undefined) ?? [];
    const index = items.findIndex((item) => (item as Record<string, unknown> | null)?.[place.key] === place.value);
    const previous = index >= 0 ? items[index] : undefined;
    if (previous !== undefined && !sameValue(previous, entry) && !m.force) return { action: 'conflict', existing: previous };
    outcome = previous === undefined ? 'added' : sameValue(previous, entry) ? 'unchanged' : 'replaced';
    if (outcome === 'added') doc.append(place.path, entry);
    else if (outcome === 'replaced') doc.set([...place.path, index], entry);
  }
  for (const required of spec.requiredListItems?.(input) ?? []) {
    const list = doc.get(required.path);
    const present = Array.isArray(list) && list.some((item) => (item as Record<string, unknown> | null)?.[required.key] === required.item[required.key]);
    if (!present) {
      doc.append(required.path, required.item);
      if (outcome === 'unchanged') outcome = 'replaced';
    }
  }
  return { action: outcome };
}

/** The snippet to paste when not writing: our entry at its place, in the client's format. */
export function entrySnippet(m: Omit<MergeInput, 'force' | 'newFile'>): string {
  const place = m.spec.place(m.input.name, m.loc, m.scope);
  const entry = m.spec.entry(m.input);
  let value: unknown = place.kind === 'map' ? entry : [entry];
  for (const key of [...place.path].reverse()) value = { [key]: value };
  const top = value as Record<string, unknown>;
  for (const r of m.spec.requiredListItems?.(m.input) ?? []) top[r.path[0]!] = [...((top[r.path[0]!] as unknown[] | undefined) ?? []), r.item];
  switch (m.spec.format) {
    case 'json':
      return `${JSON.stringify(top, null, 2)}\n`;
    case 'toml':
      return `${stringifyToml(top)}\n`;
    case 'yaml':
      return stringifyYaml(top, { lineWidth: 0 });
  }
}

/** An entry found in a client's file that runs this bridge. */
export interface FoundEntry {
  name: string;
  /** The gateway URL in its arguments, if one is there. */
  url?: string;
}

/** Every entry in the document, next to where ours would go, that starts mcp-keybridge. */
export function bridgeEntries(doc: ConfigDocument, spec: ClientSpec, loc: ClientLocation, scope: ConfigScope): FoundEntry[] {
  const place = spec.place('x', loc, scope);
  const container = doc.get(place.kind === 'map' ? place.path.slice(0, -1) : place.path);
  if (container === null || typeof container !== 'object') return [];
  const pairs: [string, unknown][] = Array.isArray(container)
    ? container.map((item) => [String((item as Record<string, unknown> | null)?.[place.kind === 'list' ? place.key : 'name'] ?? '?'), item])
    : Object.entries(container);
  const out: FoundEntry[] = [];
  for (const [name, entry] of pairs) {
    const words = commandWords(entry);
    if (!words.some((w) => /(^|[/\\@])mcp-keybridge(\.js)?(@[^/\\]*)?$/.test(w))) continue;
    out.push({ name, url: words.find((w) => /^https?:\/\//i.test(w)) });
  }
  return out;
}

/** The command and arguments of an entry in any client's shape (command+args, command array, cmd+args). */
function commandWords(entry: unknown): string[] {
  if (entry === null || typeof entry !== 'object') return [];
  const e = entry as Record<string, unknown>;
  const words: unknown[] = [];
  for (const key of ['command', 'cmd']) {
    const v = e[key];
    if (Array.isArray(v)) words.push(...v);
    else if (typeof v === 'object' && v !== null) words.push(...commandWords(v));
    else words.push(v);
  }
  if (Array.isArray(e.args)) words.push(...e.args);
  return words.filter((w): w is string => typeof w === 'string');
}
