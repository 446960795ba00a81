import type { JsonRpcId, JsonRpcMessage } from '../../relay/jsonRpc.js';
import { MethodNotFound } from './modernError.js';

/** What to do with a message the IDE sent before its initialize request. */
export type EarlyAnswer =
  | { kind: 'answer'; message: JsonRpcMessage }
  | { kind: 'drop'; why: string };

/**
 * How a 2025-era server treats a message that arrives before `initialize` (2025-11-25 lifecycle:
 * the client's first request is initialize; only ping may come earlier). Nothing of this goes to
 * the gateway: a 2025 Streamable HTTP server would refuse it with a 400 that is not about the
 * transport, and it must never be the POST that decides between Streamable HTTP and HTTP+SSE.
 *
 * - `ping` is answered (the spec allows it at any time).
 * - Any other request gets -32601 "method not found": that is what a 2025 server answers to
 *   `server/discover`, the modern probe some clients (Claude Code) send first, and a dual-era
 *   client falls back to initialize on it and stops probing (2026-07-28 stdio, "Backward
 *   Compatibility"). A 2025 server has no session to serve any other method in either.
 * - Notifications (and stray responses) are dropped: there is nothing for them to belong to.
 */
export function answerBeforeInitialize(msg: JsonRpcMessage): EarlyAnswer {
  if (msg.method === undefined || msg.id === undefined || msg.id === null) {
    return { kind: 'drop', why: `${msg.method ?? 'a response'} arrived before initialize` };
  }
  const id = msg.id as JsonRpcId;
  if (msg.method === 'ping') return { kind: 'answer', message: { jsonrpc: '2.0', id, result: {} } };
  return {
    kind: 'answer',
    message: {
      jsonrpc: '2.0',
      id,
      error: {
        code: MethodNotFound,
        message: `Method not found: ${msg.method} (this server speaks a protocol version that starts with initialize)`,
      },
    },
  };
}
