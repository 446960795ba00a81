import type { KeybridgeError } from '../errors.js';
import type { JsonRpcMessage } from '../relay/jsonRpc.js';
import { prepareMessage } from '../relay/jsonEnvelope.js';
import type { HttpResponse } from './httpClient.js';
import { DEFAULT_RETRY_MS } from './answerStream.js';
import type { MessageLimits } from './messageLimits.js';
import type { TransportContext } from './remoteTransport.js';
import { consumeSse, type LargeDataHandler, type SseState } from './sseStream.js';

const MAX_GET_BACKOFF_MS = 30_000;
/**
 * At most how long start()'s promise waits for the gateway to answer the GET. A gateway answers a
 * GET at once (headers first); the bound is only for one that holds it, and is generous because a
 * loaded machine can take seconds to answer on loopback.
 */
export const SERVER_STREAM_ANSWER_BOUND_MS = 10_000;

/** What the server stream needs from the Streamable HTTP session it belongs to. */
export interface ServerStreamSession {
  readonly ctx: TransportContext;
  readonly closed: boolean;
  /** Aborted when the bridge shuts down. */
  readonly signal: AbortSignal;
  readonly sessionId: string | undefined;
  /** A re-creation of the session in progress, if any. */
  readonly reinitializing: Promise<void> | undefined;
  /** The IDE's initialize is known, so an expired session can be re-created. */
  readonly canReinitialize: boolean;
  reinitialize(): Promise<void>;
  /** GET the MCP endpoint with the session's headers (and Last-Event-ID when resuming). */
  get(lastEventId: string | undefined): Promise<HttpResponse>;
  /** How large messages on this stream go to the IDE, and the size limits. */
  readonly largeMessages: LargeDataHandler | undefined;
  readonly limits: MessageLimits;
}

/**
 * The optional GET stream of a Streamable HTTP session (spec 2025-03-26 .. 2025-11-25), for
 * server-initiated messages: reopened with backoff while the bridge runs, resumed with
 * Last-Event-ID within one session, moved to a re-created session when the old one expired.
 */
export class ServerStream {
  private running = false;
  /** Resolves when the running stream was first answered (see start). */
  private answered: Promise<void> | undefined;
  /** The session whose GET the gateway accepted: a later 404 for it means the session expired. */
  private acceptedSession?: string;

  constructor(private readonly session: ServerStreamSession) {}

  /**
   * Start the stream unless it runs (then this is cheap: every successful POST calls it). Resolves once the gateway first answers it (any status, or a
   * failure), or after SERVER_STREAM_ANSWER_BOUND_MS at most, so that a gateway that holds the GET
   * unanswered only delays whoever waits for it.
   */
  start(): Promise<void> {
    if (this.session.closed) return Promise.resolve();
    if (this.running) return this.answered ?? Promise.resolve();
    this.running = true;
    let answered: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      answered = resolve;
      setTimeout(resolve, SERVER_STREAM_ANSWER_BOUND_MS).unref();
    });
    this.answered = first;
    void this.run(answered).finally(() => {
      answered();
      this.running = false;
      if (this.answered === first) this.answered = undefined;
    });
    return first;
  }

  private async run(onFirstAnswer: () => void): Promise<void> {
    const s = this.session;
    const state: SseState = {};
    let stateSession = s.sessionId;
    let failures = 0;
    while (!s.closed) {
      // While the session is being re-created, wait for the new one instead of asking with none.
      if (s.reinitializing) await s.reinitializing.catch(() => undefined);
      if (s.closed) return;
      const sessionAtStart = s.sessionId;
      // Event ids belong to one session's stream: never resume a new session with an old one's id.
      if (sessionAtStart !== stateSession) {
        state.lastEventId = undefined;
        stateSession = sessionAtStart;
      }
      let res: HttpResponse;
      try {
        res = await s.get(state.lastEventId);
        onFirstAnswer();
      } catch (err) {
        onFirstAnswer();
        if (s.closed) return;
        failures++;
        s.ctx.log.debug(`server stream: ${(err as KeybridgeError).message}`);
        await this.backoff(failures, state);
        continue;
      }
      if (res.status === 405 || (res.status === 404 && !sessionAtStart)) {
        res.body.discard(); // the server offers no GET stream: fine
        return;
      }
      if (res.status === 404 && sessionAtStart === this.acceptedSession && s.canReinitialize) {
        // The session this stream was open on expired (e.g. the gateway restarted): re-create it
        // now rather than at the IDE's next request, so server-initiated messages keep arriving.
        res.body.discard();
        this.acceptedSession = undefined;
        try {
          if (s.sessionId === sessionAtStart) await s.reinitialize();
        } catch (err) {
          if (s.closed) return;
          s.ctx.log.debug(`server stream: could not re-create the session: ${(err as Error).message}`);
          return; // the next request from the IDE tries again and restarts the stream
        }
        continue;
      }
      if (res.status === 404 && s.sessionId !== sessionAtStart) {
        res.body.discard(); // a request re-created the session meanwhile: open the stream on the new one
        continue;
      }
      if (res.status === 404 || res.status === 401 || res.status === 403) {
        // Session gone or token refused: the next POST re-initializes / signs in and restarts the stream.
        res.body.discard();
        return;
      }
      if (res.status !== 200) {
        res.body.discard();
        failures++;
        await this.backoff(failures, state);
        continue;
      }
      failures = 0;
      this.acceptedSession = sessionAtStart;
      try {
        await consumeSse(res.body, state, async (ev) => {
          if (ev.data.length === 0 || (ev.event && ev.event !== 'message')) return false;
          const prepared = prepareMessage(ev.data);
          if (prepared) await s.ctx.deliver(prepared.bytes, prepared.msg as JsonRpcMessage | undefined);
          return false;
        }, s.largeMessages, s.limits);
      } catch (err) {
        if (s.closed) return;
        s.ctx.log.debug(`server stream broke: ${(err as Error).message}`);
      }
      if (s.closed) return;
      failures++;
      await this.backoff(failures, state);
    }
  }

  private async backoff(failures: number, state: SseState): Promise<void> {
    const base = state.retryMs ?? DEFAULT_RETRY_MS;
    const ms = Math.min(MAX_GET_BACKOFF_MS, base * 2 ** Math.min(failures - 1, 5)) * (0.5 + this.session.ctx.random() / 2);
    try {
      await this.session.ctx.sleep(ms, this.session.signal);
    } catch {
      // aborted: the loop sees closed
    }
  }
}
