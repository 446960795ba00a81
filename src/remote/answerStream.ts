import { RemoteUnavailableError } from '../errors.js';
import type { JsonRpcId, JsonRpcMessage } from '../relay/jsonRpc.js';
import { prepareMessage } from '../relay/jsonEnvelope.js';
import type { HttpResponse } from './httpClient.js';
import { MessageTooLargeError, type MessageLimits } from './messageLimits.js';
import { describeNetworkError } from './remoteErrors.js';
import type { TransportContext } from './remoteTransport.js';
import { consumeSse, type LargeDataHandler, type SseState } from './sseStream.js';

const MAX_RESUMES = 5;
export const DEFAULT_RETRY_MS = 1_000;

export interface AnswerStreamOptions {
  ctx: TransportContext;
  requestId: JsonRpcId;
  signal: AbortSignal;
  /** The answer is read (onAnswer) but not delivered to the IDE: a replayed initialize. */
  swallow: boolean;
  /** Told the answer's bytes before it is delivered (the initialize result, for its protocol version). */
  onAnswer?: (data: Buffer) => void;
  /** How large events go to the IDE as they arrive (undefined: joined whole). */
  large: LargeDataHandler | undefined;
  limits: MessageLimits;
  /** GET the stream again from Last-Event-ID (spec: resumption after a dropped stream). */
  resume: (lastEventId: string) => Promise<HttpResponse>;
}

/**
 * Deliver the SSE events of a POST's response stream until the answer to requestId arrives,
 * resuming with Last-Event-ID (at most MAX_RESUMES times) when the server ends the stream first.
 */
export async function readAnswerStream(first: HttpResponse, o: AnswerStreamOptions): Promise<void> {
  const { ctx, requestId, signal } = o;
  const state: SseState = {};
  let res: HttpResponse = first;
  for (let resumes = 0; ; resumes++) {
    let answered = false;
    try {
      answered = await consumeSse(res.body, state, async (ev) => {
        if (ev.data.length === 0 || (ev.event && ev.event !== 'message')) return false;
        const prepared = prepareMessage(ev.data);
        if (!prepared) {
          ctx.log.warn('the gateway sent an SSE event that is not a JSON object; skipped');
          return false;
        }
        const isAnswer = !prepared.env.hasMethod && prepared.env.id === requestId;
        if (isAnswer) o.onAnswer?.(ev.data);
        if (!(isAnswer && o.swallow)) await ctx.deliver(prepared.bytes, prepared.msg as JsonRpcMessage | undefined);
        return isAnswer;
      }, o.large, o.limits);
    } catch (err) {
      if (signal.aborted) throw describeNetworkError(signal.reason ?? err, ctx.url);
      if (err instanceof MessageTooLargeError) throw err; // resuming would only replay the flood
      ctx.log.debug(`response stream broke: ${(err as Error).message}`);
    }
    if (answered) return;
    // Spec: the server may end the stream before answering; the client resumes with GET + Last-Event-ID.
    if (state.lastEventId === undefined || resumes >= MAX_RESUMES) {
      throw new RemoteUnavailableError(`the gateway closed the response stream for request ${JSON.stringify(requestId)} without answering it`, {
        code: 'stream_closed',
      });
    }
    await ctx.sleep(state.retryMs ?? DEFAULT_RETRY_MS, signal);
    res = await o.resume(state.lastEventId);
    if (res.status !== 200) {
      res.body.discard();
      throw new RemoteUnavailableError(`the gateway refused to resume the response stream (HTTP ${res.status})`, {
        code: 'stream_closed',
        status: res.status,
      });
    }
  }
}
