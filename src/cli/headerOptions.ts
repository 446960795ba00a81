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
  return checkedHeader(spec.slice(0, colon).trim(), expandEnv(spec.slice(colon + 1).trim(), env, where), where);
}

/** A header name we may send and a value without line breaks, as [lower-case name, value]. */
function checkedHeader(name: string, value: string, where: string): [string, string] {
  if (!TOKEN.test(name)) throw new UsageError(`${where}: "${name}" is not a valid header name`);
  if (RESERVED.has(name.toLowerCase())) throw new UsageError(`${where}: the header ${name} is set by the transport and cannot be overridden`);
  if (/[\r\n\0]/.test(value)) throw new UsageError(`${where}: the value of ${name} contains a line break`);
  return [name.toLowerCase(), value];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The value of an environment variable a flag names (no `$` syntax, so no MCP client expands it into argv). */
function envValue(variable: string, env: NodeJS.ProcessEnv, where: string): string {
  if (!ENV_NAME.test(variable)) throw new UsageError(`${where}: "${variable}" is not an environment variable name (letters, digits and "_"; no "$")`);
  const value = env[variable];
  if (value === undefined || value === '') throw new UsageError(`${where}: the environment variable ${variable} is not set (set it in the MCP client's "env" for this server)`);
  return value;
}

/**
 * The headers whose values come from environment variables named by --bearer-env VAR and
 * --header-env Name=VAR. Unlike a "${VAR}" in --header, these carry no `$` syntax: Claude Code
 * and Gemini CLI substitute ${VAR} (Gemini also $VAR) in a server's args from their own
 * environment before spawning it, which would put the secret on our command line.
 */
export function envHeaders(opts: { bearerEnv?: string; headerEnv?: string[] }, env: NodeJS.ProcessEnv): [string, string][] {
  const out: [string, string][] = [];
  for (const spec of opts.headerEnv ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header-env takes Name=VAR, got "${spec}"`);
    out.push(checkedHeader(spec.slice(0, eq).trim(), envValue(spec.slice(eq + 1).trim(), env, '--header-env').trim(), '--header-env'));
  }
  if (opts.bearerEnv !== undefined) {
    const token = envValue(opts.bearerEnv, env, '--bearer-env').trim();
    if (/[\s\0]/.test(token)) throw new UsageError(`--bearer-env ${opts.bearerEnv}: the token contains whitespace`);
    out.push(['authorization', `Bearer ${token}`]);
  }
  return out;
}

/**
 * Headers from --header (repeatable), --header-file (one "Name: value" per line, # comments),
 * --header-env Name=VAR (repeatable) and --bearer-env VAR; later sources win.
 */
export async function loadStaticHeaders(
  opts: { header?: string[]; headerFile?: string; headerEnv?: string[]; bearerEnv?: string },
  env: NodeJS.ProcessEnv,
): Promise<Record<string, string>> {
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
  for (const [k, v] of envHeaders(opts, env)) out[k] = v;
  return out;
}
