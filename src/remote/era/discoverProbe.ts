import { RemoteUnavailableError } from '../../errors.js';
import type { JsonRpcId, JsonRpcMessage } from '../../relay/jsonRpc.js';
import type { TransportContext } from '../remoteTransport.js';
import { modernErrorOf, supportedVersionsOf } from './modernError.js';
import { parsedAnswer, postModern, readModernAnswer, type HeldAnswer } from './modernExchange.js';
import { MetaKeys, MODERN_VERSION, pickModernVersion } from './protocolVersions.js';
import { standardHeaders } from './requestHeaders.js';

/** A server/discover result (2026-07-28 server/discover), as far as the bridge reads it. */
export interface DiscoverResult {
  supportedVersions?: string[];
  capabilities?: Record<string, unknown>;
  serverInfo?: unknown;
  instructions?: unknown;
  _meta?: Record<string, unknown>;
}

/** Which era the gateway speaks, and how sure the probe is (only a sure answer is cached). */
export type EraVerdict =
  | { era: 'modern'; version: string; discover: DiscoverResult; answer: HeldAnswer }
  | { era: 'legacy'; why: string; sure: boolean };

/** The probe request: the IDE's own server/discover, or one the bridge makes. */
export interface ProbeRequest {
  id: JsonRpcId;
  /** params with _meta (protocolVersion, clientCapabilities, clientInfo) */
  params: Record<string, unknown>;
}

/** A bridge-made server/discover for a client with these capabilities and identity. */
export function discoverRequest(id: JsonRpcId, clientCapabilities: unknown, clientInfo: unknown): ProbeRequest {
  const meta: Record<string, unknown> = { [MetaKeys.protocolVersion]: MODERN_VERSION, [MetaKeys.clientCapabilities]: clientCapabilities ?? {} };
  if (clientInfo !== undefined) meta[MetaKeys.clientInfo] = clientInfo;
  return { id, params: { _meta: meta } };
}

/**
 * Era detection over Streamable HTTP (2026-07-28 transports, "Backward Compatibility"): a modern
 * request first. A DiscoverResult means modern; a 400 with a recognised modern error too (for an
 * unsupported version, retried once with a version the server lists); any other 4xx means a
 * 2025-era server. 401/403 are not evidence: postModern signs in and asks again. A network failure
 * is thrown (the gateway is not there at all).
 */
export async function probeEra(ctx: TransportContext, probe: ProbeRequest, shutdown: AbortSignal): Promise<EraVerdict> {
  let params = probe.params;
  for (let attempt = 0; attempt < 2; attempt++) {
    const version = String((params._meta as Record<string, unknown>)[MetaKeys.protocolVersion] ?? MODERN_VERSION);
    const res = await postModern(
      ctx,
      { body: JSON.stringify({ jsonrpc: '2.0', id: probe.id, method: 'server/discover', params }), headers: standardHeaders('server/discover', params, version), idempotent: true },
      shutdown,
    );
    if (res.status >= 500) {
      return { era: 'legacy', why: `server/discover answered HTTP ${res.status}`, sure: false };
    }
    let answer: HeldAnswer;
    try {
      answer = await readModernAnswer(ctx, res, probe.id, async () => undefined);
    } catch (err) {
      if (err instanceof RemoteUnavailableError && err.code !== 'network' && err.code !== 'unreachable' && err.code !== 'aborted') {
        return { era: 'legacy', why: err.message, sure: res.status >= 400 && res.status < 500 };
      }
      throw err;
    }
    const msg = parsedAnswer(answer);
    if (answer.status >= 200 && answer.status < 300) {
      const result = msg.result as DiscoverResult | undefined;
      if (result && Array.isArray(result.supportedVersions)) {
        const chosen = pickModernVersion(result.supportedVersions);
        if (chosen) return { era: 'modern', version: chosen, discover: result, answer };
        return { era: 'legacy', why: `the gateway supports ${result.supportedVersions.join(', ')}, none of which is ${MODERN_VERSION}`, sure: true };
      }
      return { era: 'legacy', why: 'server/discover is not answered with a DiscoverResult', sure: true };
    }
    const modern = modernErrorOf(answer.status, answer.prepared.bytes);
    if (!modern) return { era: 'legacy', why: `server/discover answered HTTP ${answer.status}${describeError(msg)}`, sure: true };
    const supported = supportedVersionsOf(modern);
    const next = supported ? pickModernVersion(supported) : undefined;
    if (!next) {
      throw new RemoteUnavailableError(
        `the gateway speaks a modern MCP revision but refused server/discover (${modern.code}: ${modern.message}); mcp-keybridge speaks ${MODERN_VERSION}`,
        { code: 'protocol_unsupported', status: answer.status },
      );
    }
    // Retry with a version the server lists (the spec's negotiation), once.
    params = { ...params, _meta: { ...(params._meta as object), [MetaKeys.protocolVersion]: next } };
  }
  throw new RemoteUnavailableError(`the gateway kept refusing server/discover with ${MODERN_VERSION}`, { code: 'protocol_unsupported' });
}

function describeError(msg: JsonRpcMessage): string {
  return msg.error ? ` (${msg.error.code}: ${msg.error.message})` : '';
}
