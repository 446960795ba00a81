/** JSON-RPC 2.0 as the relay sees it: just enough shape to route, never a full schema check. */
export type JsonRpcId = string | number;

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Implementation-defined server errors (-32000..-32099). */
  RemoteUnavailable: -32000,
  AuthRequired: -32001,
  AuthRefused: -32002,
  PolicyRefused: -32003,
  RateLimited: -32004,
} as const;

export type MessageKind = 'request' | 'notification' | 'response';

/** What kind of message this is, or an error text when it is not JSON-RPC 2.0. */
export function classify(value: unknown): { kind: MessageKind } | { invalid: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { invalid: 'not a JSON object' };
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return { invalid: 'missing "jsonrpc": "2.0"' };
  const hasId = m.id !== undefined;
  if (hasId && m.id !== null && typeof m.id !== 'string' && typeof m.id !== 'number') return { invalid: 'id must be a string or a number' };
  if (typeof m.method === 'string') {
    return { kind: hasId ? 'request' : 'notification' };
  }
  if (m.method !== undefined) return { invalid: 'method must be a string' };
  if (hasId && (m.result !== undefined || m.error !== undefined)) return { kind: 'response' };
  return { invalid: 'neither a request, a notification nor a response' };
}

/** A JSON-RPC error response. */
export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcMessage {
  const error: JsonRpcMessage['error'] = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: '2.0', id, error };
}

/** The id of a request as given (may be 0 or ''), or null. */
export function idOf(value: unknown): JsonRpcId | null {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const id = (value as { id?: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  return null;
}
