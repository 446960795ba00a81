import { randomBytes } from 'node:crypto';
import { RemoteUnavailableError } from '../../errors.js';
import type { JsonRpcId, JsonRpcMessage } from '../../relay/jsonRpc.js';
import type { Deliver } from '../remoteTransport.js';

/** A JSON-RPC error the IDE answered a request of ours with. */
export class IdeRefused extends Error {
  constructor(readonly error: NonNullable<JsonRpcMessage['error']>) {
    super(`the client refused: ${error.message}`);
  }
}

/**
 * Requests the bridge itself sends to the IDE (the 2025 server-to-client requests a 2026-07-28
 * input_required result is turned into), under ids of the bridge's own, and their answers.
 */
export class RequestsToIde {
  private readonly pending = new Map<JsonRpcId, { resolve(result: unknown): void; reject(err: Error): void }>();
  private counter = 0;
  /** Ids no IDE would pick for its own requests (answers are routed by id). */
  private readonly prefix = `keybridge-input-${randomBytes(4).toString('hex')}-`;

  constructor(private readonly deliver: Deliver) {}

  /** Send one request to the IDE and wait for its result (rejects with IdeRefused on an error answer). */
  async ask(method: string, params: unknown, signal?: AbortSignal): Promise<unknown> {
    const id = `${this.prefix}${++this.counter}`;
    const answered = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    const onAbort = (): void => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      // Tell the IDE to close its dialog: the request it is answering is gone.
      void this.deliver(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'the request was cancelled' } }));
      p.reject(new RemoteUnavailableError('the request was cancelled', { code: 'aborted' }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const message: JsonRpcMessage = { jsonrpc: '2.0', id, method, params };
      await this.deliver(JSON.stringify(message), message);
      return await answered;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.pending.delete(id);
    }
  }

  /** Hand an answer from the IDE to the request waiting for it; false when it is not ours. */
  settle(msg: JsonRpcMessage): boolean {
    if (msg.id === undefined || msg.id === null) return false;
    const p = this.pending.get(msg.id);
    if (!p) return false;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(new IdeRefused(msg.error));
    else p.resolve(msg.result);
    return true;
  }

  /** Fail every request still waiting (the bridge is shutting down). */
  failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
