import type { ByteSource } from '../deps.js';
import { KeybridgeError, AuthRequiredError, AuthRefusedError, UnsafeServerError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RemoteTransport } from '../remote/remoteTransport.js';
import { classify, errorResponse, ErrorCodes, idOf, type JsonRpcId, type JsonRpcMessage } from './jsonRpc.js';
import { findDuplicateKey } from './duplicateKeys.js';
import { DEFAULT_MAX_LINE_BYTES, forEachLine } from './lineReader.js';
import type { MessageWriter } from './stdoutWriter.js';
import type { RelayHook } from '../policy/policyHook.js';
import { IdeRequests } from './ideRequests.js';

export interface RelayOptions {
  stdin: ByteSource;
  writer: MessageWriter;
  remote: RemoteTransport;
  log: Logger;
  /** How long to wait for in-flight requests after stdin ends before closing. */
  drainOnEofMs?: number;
  /** Tool policy / audit, when configured (the gateway→IDE side is hooked in the deliver function). */
  hook?: RelayHook;
}

/** Why the relay stopped, for main() to turn into an exit code. */
export type RelayEnd = { reason: 'eof' | 'signal' } | { reason: 'fatal'; error: KeybridgeError };

/**
 * The stdio ↔ remote pump. Each line from the IDE is parsed once (to route it and to answer
 * malformed input), then forwarded as the exact text received — or, when a policy or audit is
 * active, as the parsed message re-serialized, so the gateway reads exactly what was judged. Every request gets an answer:
 * the gateway's, or a JSON-RPC error when it cannot be forwarded.
 */
export class Relay {
  private readonly inFlight = new Map<JsonRpcId, { done: Promise<void>; abort: AbortController }>();
  /** Requests the IDE cancelled: the spec says no response is expected for them. */
  private readonly cancelled = new Set<JsonRpcId>();
  private stopResolve?: (end: RelayEnd) => void;
  /** Requests the bridge itself sends the IDE (approvals); their answers are kept from the gateway. */
  private readonly ide = new IdeRequests((m) => this.opts.writer.writeMessage(m));

  constructor(private readonly opts: RelayOptions) {}

  /** Run until stdin ends, stop() is called, or a fatal error (gateway unreachable at start). */
  async run(): Promise<RelayEnd> {
    const stopped = new Promise<RelayEnd>((resolve) => {
      this.stopResolve = resolve;
    });
    const reading = forEachLine(this.opts.stdin, (line) => this.onLine(line), {
      maxLineBytes: DEFAULT_MAX_LINE_BYTES,
      // Never held, never forwarded: its id cannot be read without holding it, so the answer has id null.
      onOversize: (bytes) => {
        this.opts.log.warn(`refused a line of ${bytes} bytes from the IDE (more than ${DEFAULT_MAX_LINE_BYTES} bytes)`);
        void this.opts.writer.writeMessage(errorResponse(null, ErrorCodes.InvalidRequest, `Invalid Request: the line is longer than ${DEFAULT_MAX_LINE_BYTES} bytes`));
      },
    }).then(
      async (): Promise<RelayEnd> => {
        this.ide.close();
        await this.drainInFlight(this.opts.drainOnEofMs ?? 10_000);
        return { reason: 'eof' };
      },
      (err: unknown): RelayEnd => {
        this.ide.close();
        this.opts.log.debug(`stdin failed: ${(err as Error).message}`);
        return { reason: 'eof' };
      },
    );
    const end = await Promise.race([reading, stopped]);
    await this.opts.remote.close();
    return end;
  }

  /** Stop relaying (signal): in-flight requests are abandoned, the remote session is closed. */
  stop(end: RelayEnd = { reason: 'signal' }): void {
    this.stopResolve?.(end);
  }

  /** One line from the IDE: whatever goes wrong with it is answered for it, and the relay keeps serving. */
  private onLine(line: string): void {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.opts.log.warn(`ignored a line on stdin that is not JSON (${line.length} characters); answered with a parse error`);
      void this.opts.writer.writeMessage(errorResponse(null, ErrorCodes.ParseError, 'Parse error: the line is not valid JSON'));
      return;
    }
    try {
      // JSON.parse keeps the last of two equal keys, a gateway may read the first: such a line
      // means two things, and the policy could judge one while the gateway runs the other.
      const duplicate = findDuplicateKey(line);
      if (duplicate !== undefined) {
        this.refuseLine(value, ErrorCodes.InvalidRequest, `Invalid Request: the key ${JSON.stringify(duplicate)} appears twice in one object`);
        return;
      }
      // JSON-RPC batches (allowed by MCP 2025-03-26, removed in 2025-06-18) are relayed one by one.
      const items = Array.isArray(value) ? value : [value];
      if (items.length === 0) {
        void this.opts.writer.writeMessage(errorResponse(null, ErrorCodes.InvalidRequest, 'Invalid Request: empty batch'));
        return;
      }
      for (const item of items) {
        try {
          // With a policy or audit, what goes to the gateway is what was judged: the parsed message, re-serialized.
          this.onMessage(item, items.length === 1 && !this.opts.hook ? line : undefined);
        } catch (err) {
          this.failMessage(item, err);
        }
      }
    } catch (err) {
      this.failMessage(value, err);
    }
  }

  /** Answer a message whose handling failed (e.g. nested too deeply to re-serialize) with -32603. */
  private failMessage(value: unknown, err: unknown): void {
    this.opts.log.warn(`could not handle a message from the IDE: ${messageOf(err)}`);
    this.refuseLine(value, ErrorCodes.InternalError, `Internal error: mcp-keybridge could not handle this message (${messageOf(err)})`);
  }

  /** Answer a refused message with an error, unless it is a notification or a response (neither is answered). */
  private refuseLine(value: unknown, code: number, message: string): void {
    this.opts.log.warn(`refused a message from the IDE: ${message}`);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const m = value as { id?: unknown; method?: unknown };
      if (m.id === undefined && typeof m.method === 'string') return;
      if (m.method === undefined && m.id !== undefined && ('result' in m || 'error' in m)) return;
    }
    void this.opts.writer.writeMessage(errorResponse(idOf(value), code, message));
  }

  private onMessage(value: unknown, line: string | undefined): void {
    const c = classify(value);
    if ('invalid' in c) {
      this.opts.log.warn(`ignored a message on stdin that is not JSON-RPC 2.0: ${c.invalid}`);
      void this.opts.writer.writeMessage(errorResponse(idOf(value), ErrorCodes.InvalidRequest, `Invalid Request: ${c.invalid}`));
      return;
    }
    const msg = value as JsonRpcMessage;
    const shapeError = requestShapeError(msg, c.kind);
    if (shapeError) {
      this.refuseLine(msg, shapeError.code, shapeError.message);
      return;
    }
    const raw = line ?? JSON.stringify(msg);
    if (c.kind !== 'request') {
      if (c.kind === 'response' && this.ide.take(msg)) return;
      const forwarded = this.opts.remote.send({ raw, msg }).catch((err: unknown) => {
        this.opts.log.warn(`could not forward ${msg.method ?? 'a response'} to the gateway: ${messageOf(err)}`);
      });
      if (msg.method === 'notifications/cancelled') void forwarded.then(() => this.abandonCancelled(msg));
      return;
    }
    const id = msg.id as JsonRpcId;
    const refusal = this.opts.hook?.beforeForward(msg);
    if (refusal) {
      this.opts.log.warn(refusal.message.replace(/^mcp-keybridge: /, ''));
      void this.opts.writer.writeMessage({ jsonrpc: '2.0', id, error: refusal });
      return;
    }
    const isInitialize = msg.method === 'initialize';
    const abort = new AbortController();
    const wholeAnswer = this.opts.hook?.wholeAnswer?.(id);
    const send = (): Promise<void> => this.opts.remote.send({ raw, msg, signal: abort.signal, wholeAnswer });
    // Checks that take time (shared budgets, asking the user) run only for the calls they concern;
    // every other request is sent at once, as without them.
    const admission = this.opts.hook?.admit?.(msg, { signal: abort.signal, ide: this.ide });
    const entry = {
      abort,
      done: (admission ? admission.then((refused) => (refused ? this.answerRefused(id, refused) : send())) : send())
        .catch((err: unknown) => this.answerFailure(id, msg.method!, err, isInitialize))
        .finally(() => {
          if (this.inFlight.get(id) === entry) this.inFlight.delete(id);
          this.cancelled.delete(id);
        }),
    };
    this.inFlight.set(id, entry);
  }

  /**
   * After the cancellation reached the gateway, stop waiting for the cancelled request's answer
   * (the gateway need not send one) so nothing stays open for it.
   */
  private abandonCancelled(msg: JsonRpcMessage): void {
    const requestId = (msg.params as { requestId?: unknown } | undefined)?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const entry = this.inFlight.get(requestId);
    if (!entry) return;
    this.cancelled.add(requestId);
    entry.abort.abort();
  }

  /** A request the policy refused after a wait: answered unless the IDE cancelled it meanwhile. */
  private async answerRefused(id: JsonRpcId, refusal: NonNullable<JsonRpcMessage['error']>): Promise<void> {
    if (this.cancelled.has(id)) return;
    this.opts.log.warn(refusal.message.replace(/^mcp-keybridge: /, ''));
    await this.opts.writer.writeMessage({ jsonrpc: '2.0', id, error: refusal });
  }

  /** Turn a forwarding failure into the JSON-RPC error the IDE is waiting for. */
  private async answerFailure(id: JsonRpcId, method: string, err: unknown, isInitialize: boolean): Promise<void> {
    // The IDE logs what it reads: an error text that quotes a server's words is masked like a log line.
    const message = this.opts.log.redactor.redact(messageOf(err));
    if (this.cancelled.has(id)) {
      // The IDE cancelled it and expects no answer (MCP cancellation); the gateway dropped it.
      this.opts.log.debug(`${method} ${JSON.stringify(id)} was cancelled: ${message}`);
      this.opts.hook?.onForwardFailed(id, 'cancelled');
      return;
    }
    const code =
      err instanceof AuthRequiredError
        ? ErrorCodes.AuthRequired
        : err instanceof AuthRefusedError || err instanceof UnsafeServerError
          ? ErrorCodes.AuthRefused
          : ErrorCodes.RemoteUnavailable;
    const data = err instanceof KeybridgeError ? { reason: err.code } : undefined;
    this.opts.log.error(`${method} failed: ${message}`);
    this.opts.hook?.onForwardFailed(id, message);
    await this.opts.writer.writeMessage(errorResponse(id, code, `mcp-keybridge: ${message}`, data));
    // A gateway that cannot be reached for the very first initialize is a configuration problem:
    // say so on stderr and exit non-zero, so the IDE shows the server as failed instead of hanging.
    if (isInitialize && err instanceof KeybridgeError && (err.code === 'unreachable' || err.code === 'transport_unsupported')) {
      this.stop({ reason: 'fatal', error: err });
    }
  }

  private async drainInFlight(ms: number): Promise<void> {
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()].map((e) => e.done)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }
}

/**
 * A tools/call is judged by the policy, budgets and audit: one that is a notification (no id, so
 * nothing could be answered or audited) or whose tool name is not a string is refused in every mode.
 */
function requestShapeError(msg: JsonRpcMessage, kind: 'request' | 'notification' | 'response'): { code: number; message: string } | undefined {
  if (msg.method !== 'tools/call') return undefined;
  if (kind !== 'request') return { code: ErrorCodes.InvalidRequest, message: 'Invalid Request: a tools/call must be a request with an id' };
  const params = msg.params;
  if (params === null || typeof params !== 'object' || Array.isArray(params) || typeof (params as { name?: unknown }).name !== 'string') {
    return { code: ErrorCodes.InvalidParams, message: 'Invalid params: a tools/call needs params.name, a string' };
  }
  return undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
