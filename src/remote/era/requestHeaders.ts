/**
 * The HTTP headers a 2026-07-28 request carries besides its body (Streamable HTTP, "Request
 * Metadata"; SEP-2243): MCP-Protocol-Version, Mcp-Method, Mcp-Name and the Mcp-Param-* headers a
 * tool's inputSchema designates with `x-mcp-header`. Pure.
 */

/** Methods whose params.name / params.uri is mirrored into Mcp-Name. */
const NAME_SOURCE: Record<string, 'name' | 'uri'> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

/** A parameter a tool mirrors into a header: the property path in `arguments` and the header's name part. */
export interface HeaderParam {
  path: string[];
  header: string;
}

/** RFC 9110 §5.6.2 tchar. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SENTINEL = /^=\?base64\?.*\?=$/s;

/**
 * A value as a header value: as is when it is visible ASCII with inner spaces only, else the
 * `=?base64?…?=` form of its UTF-8 bytes (also for a plain value that looks like that form).
 */
export function encodeHeaderValue(value: string): string {
  const plain = /^[\x20-\x7e]*$/.test(value) && value === value.trim() && !SENTINEL.test(value);
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The standard headers for one request body. */
export function standardHeaders(method: string, params: unknown, protocolVersion: string): Record<string, string> {
  const h: Record<string, string> = { 'mcp-protocol-version': protocolVersion, 'mcp-method': method };
  const source = NAME_SOURCE[method];
  const value = source ? (params as Record<string, unknown> | undefined)?.[source] : undefined;
  if (typeof value === 'string') h['mcp-name'] = encodeHeaderValue(value);
  return h;
}

/** Mcp-Param-* headers for a tool call's arguments; a missing or null value sends no header. */
export function paramHeaders(params: readonly HeaderParam[], args: unknown): Record<string, string> {
  const h: Record<string, string> = {};
  for (const p of params) {
    let v: unknown = args;
    for (const key of p.path) v = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;
    let text: string | undefined;
    if (typeof v === 'string') text = v;
    else if (typeof v === 'boolean') text = v ? 'true' : 'false';
    else if (typeof v === 'number' && Number.isFinite(v)) text = String(v);
    if (text !== undefined) h[`mcp-param-${p.header.toLowerCase()}`] = encodeHeaderValue(text);
  }
  return h;
}

const PRIMITIVE_TYPES = new Set(['string', 'integer', 'boolean']);
const NOT_STATIC = ['items', 'prefixItems', 'additionalProperties', 'patternProperties', 'oneOf', 'anyOf', 'allOf', 'not', 'if', 'then', 'else', '$ref', '$defs', 'definitions', 'dependentSchemas', 'contains'];

/**
 * The header parameters a tool's inputSchema declares, or the reason the tool must be rejected
 * (tools, "x-mcp-header": non-empty token, no control characters, unique ignoring case, on
 * integer/string/boolean only, reachable from the root through `properties` alone).
 */
export function headerParamsOf(inputSchema: unknown): { params: HeaderParam[] } | { invalid: string } {
  const params: HeaderParam[] = [];
  const seen = new Set<string>();
  const problems: string[] = [];
  const visit = (schema: unknown, path: string[], statically: boolean): void => {
    if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return;
    const s = schema as Record<string, unknown>;
    if ('x-mcp-header' in s && path.length > 0) {
      const name = s['x-mcp-header'];
      const where = path.join('.');
      if (!statically) problems.push(`x-mcp-header on "${where}" is not reachable through properties alone`);
      else if (typeof name !== 'string' || name === '') problems.push(`x-mcp-header on "${where}" is empty`);
      else if (!TOKEN.test(name)) problems.push(`x-mcp-header "${name}" is not an HTTP field-name token`);
      else if (seen.has(name.toLowerCase())) problems.push(`x-mcp-header "${name}" is used twice`);
      else if (!isPrimitive(s.type)) problems.push(`x-mcp-header "${name}" is on a parameter of type ${JSON.stringify(s.type)} (only integer, string, boolean)`);
      else {
        seen.add(name.toLowerCase());
        params.push({ path, header: name });
      }
    } else if ('x-mcp-header' in s) {
      problems.push('x-mcp-header on the schema root');
    }
    const props = s.properties;
    if (props && typeof props === 'object' && !Array.isArray(props)) {
      for (const [key, child] of Object.entries(props as Record<string, unknown>)) visit(child, [...path, key], statically);
    }
    for (const k of NOT_STATIC) {
      const sub = s[k];
      if (Array.isArray(sub)) sub.forEach((x) => visit(x, [...path, k], false));
      else if (sub && typeof sub === 'object') {
        if (k === '$defs' || k === 'definitions' || k === 'patternProperties' || k === 'dependentSchemas') {
          for (const x of Object.values(sub as Record<string, unknown>)) visit(x, [...path, k], false);
        } else visit(sub, [...path, k], false);
      }
    }
  };
  visit(inputSchema, [], true);
  return problems.length > 0 ? { invalid: problems[0]! } : { params };
}

function isPrimitive(type: unknown): boolean {
  return typeof type === 'string' && PRIMITIVE_TYPES.has(type);
}
