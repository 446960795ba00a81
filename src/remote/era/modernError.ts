/**
 * Error codes only a modern (2026-07-28 and later) MCP server sends, reserved by the spec for
 * itself (basic/index, "Error Codes"): -32020..-32099 are defined exclusively by the specification.
 */
export const ModernErrorCodes = {
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
} as const;

export const MethodNotFound = -32601;

/** The code of the 2025 transport's error when a modern server refused the IDE's initialize. */
export const MODERN_SERVER_CODE = 'modern_server';

/** A JSON-RPC error a modern server returned, as read from an HTTP error body. */
export interface ModernError {
  code: number;
  message: string;
  data?: unknown;
  id?: unknown;
}

/** At most this much of an error body is read to classify it (error bodies are small). */
export const ERROR_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * The JSON-RPC error in an HTTP error body, or undefined when the body is not one (empty, HTML, a
 * JSON object without `error`...).
 */
export function jsonRpcErrorOf(body: Buffer | string): ModernError | undefined {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const m = value as { jsonrpc?: unknown; error?: unknown; id?: unknown };
  if (m.jsonrpc !== '2.0' || !m.error || typeof m.error !== 'object') return undefined;
  const e = m.error as { code?: unknown; message?: unknown; data?: unknown };
  if (typeof e.code !== 'number' || !Number.isInteger(e.code)) return undefined;
  return { code: e.code, message: typeof e.message === 'string' ? e.message : '', data: e.data, id: m.id };
}

/**
 * Whether an HTTP error answer identifies a modern server (Streamable HTTP 2026-07-28, "Backward
 * Compatibility"): a 400 with one of the spec-reserved codes (unsupported version, missing client
 * capability, header mismatch), or a 404 whose body is the JSON-RPC "method not found" a modern
 * server sends for a method it does not implement (a legacy HTTP+SSE server's 404 is not JSON-RPC).
 * -32022 counts only with its `data.supported` list, which is what makes it actionable.
 */
export function modernErrorOf(status: number, body: Buffer | string): ModernError | undefined {
  const err = jsonRpcErrorOf(body);
  if (!err) return undefined;
  if (status === 404 && err.code === MethodNotFound) return err;
  if (status !== 400) return undefined;
  if (err.code === ModernErrorCodes.HeaderMismatch || err.code === ModernErrorCodes.MissingRequiredClientCapability) return err;
  if (err.code === ModernErrorCodes.UnsupportedProtocolVersion && supportedVersionsOf(err) !== undefined) return err;
  return undefined;
}

/** The `supported` versions an UnsupportedProtocolVersionError lists, when it lists any. */
export function supportedVersionsOf(err: ModernError): string[] | undefined {
  const supported = (err.data as { supported?: unknown } | undefined)?.supported;
  if (!Array.isArray(supported)) return undefined;
  const versions = supported.filter((v): v is string => typeof v === 'string');
  return versions.length > 0 ? versions : undefined;
}
