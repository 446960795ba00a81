import { RemoteUnavailableError } from '../../errors.js';
import { bytesBody } from '../bodySource.js';
import type { Envelope } from '../../relay/envelopeScanner.js';
import type { JsonRpcId, JsonRpcMessage } from '../../relay/jsonRpc.js';
import { prepareMessage, SMALL_MESSAGE_BYTES, type PreparedMessage } from '../../relay/jsonEnvelope.js';
import type { MessageLease } from '../../relay/stdoutWriter.js';
import { readBytes } from '../httpClient.js';
import { readJsonBody } from '../jsonBodyReader.js';
import { messageLimits } from '../messageLimits.js';
import { requestFollowingRedirects, type RedirectedResponse } from '../redirects.js';
import { challengeOf } from '../remoteAuth.js';
import { describeNetworkError, httpStatusError, isAuthChallenge } from '../remoteErrors.js';
import type { TransportContext } from '../remoteTransport.js';
import { retryDelay } from '../retryPolicy.js';
import { consumeSse, type LargeDataHandler, type SseEvent } from '../sseStream.js';
import { largeEventsTo } from '../largeEvents.js';
import { AnswerToIde } from './answerToIde.js';
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

/**
 * The final answer to a request: the bytes received (one line), its envelope, and the parsed form
 * when small; or, for a large one the IDE could take as it came, its envelope once it was written.
 * status is the HTTP status: a 4xx with a JSON-RPC error body is an answer too (e.g. -32020, -32022, -32602).
 */
export type ModernAnswer = HeldAnswer | { streamed: Envelope; status: number };
export interface HeldAnswer {
  prepared: PreparedMessage;
  status: number;
}

/** A large 2xx answer may go to the IDE as it arrives (see AnswerToIde) instead of being held whole. */
export interface AnswerStreaming {
  open: () => Promise<MessageLease>;
  /** Hold it until its end shows it is not an InputRequiredResult (the bridge acts on those). */
  mayAskForInput: boolean;
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
        res.body.discard();
        ctx.log.info(`the gateway answered HTTP ${res.status}; retrying in ${Math.round(delay)} ms`);
        await ctx.sleep(delay, signal);
        continue;
      }
    }
    if (isAuthChallenge(res) && ctx.auth && res.finalUrl.origin === ctx.url.origin) {
      res.body.discard();
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
export async function readModernAnswer(ctx: TransportContext, res: RedirectedResponse, requestId: JsonRpcId, onOther: (prepared: PreparedMessage) => Promise<void>): Promise<HeldAnswer>;
export async function readModernAnswer(
  ctx: TransportContext,
  res: RedirectedResponse,
  requestId: JsonRpcId,
  onOther: (prepared: PreparedMessage) => Promise<void>,
  streaming?: AnswerStreaming,
): Promise<ModernAnswer>;
export async function readModernAnswer(
  ctx: TransportContext,
  res: RedirectedResponse,
  requestId: JsonRpcId,
  onOther: (prepared: PreparedMessage) => Promise<void>,
  streaming?: AnswerStreaming,
): Promise<ModernAnswer> {
  if (res.status < 200 || res.status >= 300) {
    const body = await readBytes(res.body, ERROR_BODY_LIMIT_BYTES).catch(() => Buffer.alloc(0));
    const prepared = jsonRpcErrorOf(body) ? prepareMessage(body) : undefined;
    if (prepared) return { prepared, status: res.status };
    throw await httpStatusError({ ...res, body: bytesBody(body) }, ctx.url, ctx.log.redactor);
  }
  if (res.status === 202) {
    res.body.discard();
    throw new RemoteUnavailableError(`the gateway accepted request ${JSON.stringify(requestId)} but sent no answer`, { code: 'no_response' });
  }
  const type = first(res.headers['content-type']) ?? '';
  const limits = ctx.limits ?? messageLimits();
  const isAnswer = (env: Envelope): boolean => !env.hasMethod && env.id === requestId;
  const toIde = streaming && ((): Promise<AnswerToIde> => AnswerToIde.open({
    open: streaming.open,
    log: ctx.log,
    mayAskForInput: streaming.mayAskForInput,
    holdLimitBytes: limits.maxWholeMessageBytes,
    asksForInput: (msg) => msg.method === undefined && msg.id === requestId && (msg.result as { resultType?: unknown } | undefined)?.resultType === 'input_required',
  }));
  if (!type.startsWith('text/event-stream')) {
    if (!toIde) {
      const prepared = prepareMessage(await readBytes(res.body, limits.maxMessageBytes));
      if (!prepared) {
        throw new RemoteUnavailableError(`the gateway answered request ${JSON.stringify(requestId)} with a body that is not a JSON-RPC message`, { code: 'bad_answer' });
      }
      return { prepared, status: res.status };
    }
    let sink: AnswerToIde | undefined;
    const body = await readJsonBody(res.body, { limits, streamAboveBytes: SMALL_MESSAGE_BYTES, open: async () => (sink = await toIde()) });
    if ('whole' in body) {
      const prepared = prepareMessage(body.whole);
      if (!prepared) {
        throw new RemoteUnavailableError(`the gateway answered request ${JSON.stringify(requestId)} with a body that is not a JSON-RPC message`, { code: 'bad_answer' });
      }
      return { prepared, status: res.status };
    }
    if (sink?.inputRequired) return { prepared: sink.inputRequired, status: res.status };
    // Written to the IDE already: a JSON body that is not this request's answer is refused, so the request is answered once (by an error) instead of never.
    if (!body.streamed || !isAnswer(body.streamed)) {
      throw new RemoteUnavailableError(`the gateway answered request ${JSON.stringify(requestId)} with a body that is not its JSON-RPC answer`, { code: 'bad_answer' });
    }
    return { streamed: body.streamed, status: res.status };
  }
  let answer: PreparedMessage | undefined;
  let streamed: Envelope | undefined;
  const large: LargeDataHandler | undefined =
    toIde &&
    largeEventsTo(toIde, ctx.log, (env, sink) => {
      if (sink.inputRequired) answer = sink.inputRequired;
      else if (env && isAnswer(env)) streamed = env;
      return answer !== undefined || streamed !== undefined;
    });
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
  }, large, limits);
  if (streamed) return { streamed, status: res.status };
  if (!answer) {
    throw new RemoteUnavailableError(`the gateway closed the response stream for request ${JSON.stringify(requestId)} without answering it`, { code: 'stream_closed' });
  }
  return { prepared: answer, status: res.status };
}

/** The parsed form of an answer held whole (parsing a large one only when asked). */
export function parsedAnswer(a: ModernAnswer): JsonRpcMessage {
  if ('streamed' in a) throw new Error('an answer already written to the IDE has no parsed form');
  return (a.prepared.msg as JsonRpcMessage | undefined) ?? (JSON.parse(a.prepared.bytes.toString('utf8')) as JsonRpcMessage);
}

function first(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}
