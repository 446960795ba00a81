import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the transport owns; a user header must not replace them. */
const RESERVED = new Set(['host', 'content-length', 'content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'connection', 'transfer-encoding']);

/** Expand ${VAR} from the environment so secrets need not be in argv. A missing variable is an error. */
export function expandEnv(value: string, env: NodeJS.ProcessEnv, where: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new UsageError(`${where} uses \${${name}} but the environment variable ${name} is not set`);
    return v;
  });
}

/** Parse one "Name: value" header (value expanded from the environment). */
export function parseHeader(spec: string, env: NodeJS.ProcessEnv, where: string): [string, string] {
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new UsageError(`${where}: expected "Name: value", got a value without a colon`);
  const name = spec.slice(0, colon).trim();
  if (!TOKEN.test(name)) throw new UsageError(`${where}: "${name}" is not a valid header name`);
  if (RESERVED.has(name.toLowerCase())) throw new UsageError(`${where}: the header ${name} is set by the transport and cannot be overridden`);
  const value = expandEnv(spec.slice(colon + 1).trim(), env, where);
  if (/[\r\n\0]/.test(value)) throw new UsageError(`${where}: the value of ${name} contains a line break`);
  return [name.toLowerCase(), value];
}

/** Headers from --header (repeatable) and --header-file (one "Name: value" per line, # comments). */
export async function loadStaticHeaders(opts: { header?: string[]; headerFile?: string }, env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (opts.headerFile) {
    let text: string;
    try {
      text = await readFile(opts.headerFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--header-file ${opts.headerFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const t = line.trim();
      if (!t || t.startsWith('#')) return;
      const [k, v] = parseHeader(t, env, `--header-file line ${i + 1}`);
      out[k] = v;
    });
  }
  for (const spec of opts.header ?? []) {
    const [k, v] = parseHeader(spec, env, '--header');
    out[k] = v;
  }
  return out;
}
