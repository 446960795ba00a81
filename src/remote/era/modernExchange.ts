import { Readable } from 'node:stream';
import { RemoteUnavailableError } from '../../errors.js';
import type { JsonRpcId, JsonRpcMessage } from '../../relay/jsonRpc.js';
import { prepareMessage, type PreparedMessage } from '../../relay/jsonEnvelope.js';
import { discard, readBytes } from '../httpClient.js';
import { requestFollowingRedirects, type RedirectedResponse } from '../redirects.js';
import { challengeOf } from '../remoteAuth.js';
import { describeNetworkError, httpStatusError, isAuthChallenge } from '../remoteErrors.js';
import type { TransportContext } from '../remoteTransport.js';
import { retryDelay } from '../retryPolicy.js';
import { consumeSse, type SseEvent } from '../sseStream.js';
import { ERROR_BODY_LIMIT_BYTES, jsonRpcErrorOf } from './modernError.js';

/** One POST of a 2026-07-28 request: the body as sent and the request's own headers. */
export interface ModernPost {
  body: string;
  /** MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-* (see requestHeaders.ts). */
  headers: Record<string, string>;
  /** False for tools/call: never sent twice once it may have reached the gateway. */
  idempotent: boolean;
  /** Aborting closes the response stream, which is how 2026-07-28 cancels a request. */
  signal?: AbortSignal;
}

/** The final answer to a request: the bytes received (one line), its envelope, and the parsed form when small. */
export interface ModernAnswer {
  prepared: PreparedMessage;
  /** HTTP status: a 4xx with a JSON-RPC error body is an answer too (e.g. -32020, -32022, -32602). */
  status: number;
}

/**
 * POST one message with the current credentials, following the rules every exchange shares with
 * the 2025 transport: same-origin redirects only, sign-in on 401 / step-up on 403 then replay,
 * retry of network failures, 429 and 5xx as retryPolicy allows. Resolves with the response that
 * is none of those (any status); the caller reads its body.
 */
export async function postModern(ctx: TransportContext, post: ModernPost, shutdown: AbortSignal): Promise<RedirectedResponse> {
  const signal = post.signal ? AbortSignal.any([shutdown, post.signal]) : shutdown;
  let authAttempt = 0;
  let retries = 0;
  for (;;) {
    const headers: Record<string, string> = {
      ...ctx.headers,
      ...post.headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    // Authorization, and a DPoP proof for exactly this method and URL when the tokens are bound.
    if (ctx.auth) Object.assign(headers, await ctx.auth.requestHeaders({ method: 'POST', url: ctx.url }, signal));
    let res: RedirectedResponse;
    try {
      res = await requestFollowingRedirects(
        ctx.http,
        { method: 'POST', url: ctx.url, headers, body: post.body, signal },
        Object.keys(ctx.headers).map((h) => h.toLowerCase()),
      );
    } catch (err) {
      const e = describeNetworkError(err, ctx.url);
      const delay = signal.aborted
        ? undefined
        : retryDelay({ attempt: ++retries, idempotent: post.idempotent, errorCode: e.networkCode, reusedSocket: e.reusedSocket, now: ctx.clock.now(), random: ctx.random() });
      if (delay === undefined) throw e;
      ctx.log.debug(`${e.message}; retrying in ${Math.round(delay)} ms`);
      await ctx.sleep(delay, signal);
      continue;
    }
    if (res.status === 429 || res.status >= 502) {
      const delay = retryDelay({
        attempt: ++retries,
        idempotent: post.idempotent,
        status: res.status,
        retryAfter: first(res.headers['retry-after']),
        now: ctx.clock.now(),
        random: ctx.random(),
      });
      if (delay !== undefined) {
        discard(res.body);
        ctx.log.info(`the gateway answered HTTP ${res.status}; retrying in ${Math.round(delay)} ms`);
        await ctx.sleep(delay, signal);
        continue;
      }
    }
    if (isAuthChallenge(res) && ctx.auth && res.finalUrl.origin === ctx.url.origin) {
      discard(res.body);
      await ctx.auth.handleChallenge(challengeOf(res), ++authAttempt, shutdown);
      continue;
    }
    return res;
  }
}

/**
 * Read the answer to requestId from a response: a JSON body, or an SSE stream whose other events
 * (progress, log messages) go to onOther as they arrive. Error statuses whose body is a JSON-RPC
 * error are answers; any other error status throws. 2026-07-28 streams are not resumable: a
 * stream that ends before the answer fails the request.
 */
export async function readModernAnswer(
  ctx: TransportContext,
  res: RedirectedResponse,
  requestId: JsonRpcId,
  onOther: (prepared: PreparedMessage) => Promise<void>,
): Promise<ModernAnswer> {
  if (res.status < 200 || res.status >= 300) {
    const body = await readBytes(res.body, ERROR_BODY_LIMIT_BYTES).catch(() => Buffer.alloc(0));
    const prepared = jsonRpcErrorOf(body) ? prepareMessage(body) : undefined;
    if (prepared) return { prepared, status: res.status };
    throw await httpStatusError({ ...res, body: Readable.from([body]) }, ctx.url, ctx.log.redactor);
  }
  if (res.status === 202) {
    discard(res.body);
    throw new RemoteUnavailableError(`the gateway accepted request ${JSON.stringify(requestId)} but sent no answer`, { code: 'no_response' });
  }
  const type = first(res.headers['content-type']) ?? '';
  if (!type.startsWith('text/event-stream')) {
    const prepared = prepareMessage(await readBytes(res.body, ctx.limits?.maxMessageBytes));
    if (!prepared) {
      throw new RemoteUnavailableError(`the gateway answered request ${JSON.stringify(requestId)} with a body that is not a JSON-RPC message`, { code: 'bad_answer' });
    }
    return { prepared, status: res.status };
  }
  let answer: PreparedMessage | undefined;
  await consumeSse(res.body, {}, async (ev: SseEvent) => {
    if (ev.data.length === 0 || (ev.event && ev.event !== 'message')) return false;
    const prepared = prepareMessage(ev.data);
    if (!prepared) {
      ctx.log.warn('the gateway sent an SSE event that is not a JSON object; skipped');
      return false;
    }
    if (!prepared.env.hasMethod && prepared.env.id === requestId) {
      answer = prepared;
      return true;
    }
    await onOther(prepared);
    return false;
  }, undefined, ctx.limits);
  if (!answer) {
    throw new RemoteUnavailableError(`the gateway closed the response stream for request ${JSON.stringify(requestId)} without answering it`, { code: 'stream_closed' });
  }
  return { prepared: answer, status: res.status };
}

/** The parsed form of an answer (parsing a large one only when asked). */
export function parsedAnswer(a: ModernAnswer): JsonRpcMessage {
  return (a.prepared.msg as JsonRpcMessage | undefined) ?? (JSON.parse(a.prepared.bytes.toString('utf8')) as JsonRpcMessage);
}

function first(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}
