import { randomBytes } from 'node:crypto';
import type { JsonRpcId, JsonRpcMessage } from './jsonRpc.js';

/** How a request the bridge itself sent to the IDE ended. */
export type IdeAnswer =
  | { kind: 'result'; result: unknown }
  | { kind: 'error'; error: NonNullable<JsonRpcMessage['error']> }
  /** No answer: the deadline passed, the caller gave up, or stdin ended. */
  | { kind: 'abandoned'; why: 'timeout' | 'aborted' | 'closed' };

/** Writes one message to the IDE (the relay's ordered stdout writer). */
export type IdeWrite = (msg: JsonRpcMessage) => void | Promise<void>;

export interface IdeRequestOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

interface Pending {
  settle(answer: IdeAnswer): void;
}

/**
 * Requests the bridge sends to the IDE on its own account (elicitation/create for approvals).
 * Their ids carry a random per-process prefix, so they cannot be confused with the ids of the
 * gateway's requests, whose answers the relay forwards; the relay hands every IDE response to
 * take() first, and only ours are kept back from the gateway.
 */
export class IdeRequests {
  private readonly pending = new Map<JsonRpcId, Pending>();
  private readonly prefix = `mcp-keybridge-${randomBytes(6).toString('hex')}-`;
  private next = 1;
  private closed = false;

  constructor(private readonly write: IdeWrite) {}

  /**
   * Send `method` to the IDE and wait for its answer, at most timeoutMs. A request that is given
   * up (deadline, abort) is cancelled at the IDE with notifications/cancelled (MCP cancellation).
   */
  request(method: string, params: unknown, opts: IdeRequestOptions): Promise<IdeAnswer> {
    if (this.closed) return Promise.resolve({ kind: 'abandoned', why: 'closed' });
    if (opts.signal?.aborted) return Promise.resolve({ kind: 'abandoned', why: 'aborted' });
    const id = `${this.prefix}${this.next++}`;
    return new Promise<IdeAnswer>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => finish({ kind: 'abandoned', why: 'aborted' });
      const finish = (answer: IdeAnswer): void => {
        if (!this.pending.has(id)) return;
        this.pending.delete(id);
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (answer.kind === 'abandoned' && answer.why !== 'closed') {
          void this.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: answer.why === 'timeout' ? 'timed out' : 'no longer needed' } }).catch(() => undefined);
        }
        resolve(answer);
      };
      this.pending.set(id, { settle: finish });
      timer = setTimeout(() => finish({ kind: 'abandoned', why: 'timeout' }), opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.send({ jsonrpc: '2.0', id, method, params }).catch(() => finish({ kind: 'abandoned', why: 'closed' }));
    });
  }

  /** Is this IDE response the answer to one of our requests? Then it is consumed here. */
  take(msg: JsonRpcMessage): boolean {
    if (this.pending.size === 0 || typeof msg.id !== 'string') return false;
    const p = this.pending.get(msg.id);
    if (!p) return false;
    p.settle(msg.error !== undefined ? { kind: 'error', error: msg.error } : { kind: 'result', result: msg.result });
    return true;
  }

  private send(msg: JsonRpcMessage): Promise<void> {
    try {
      return Promise.resolve(this.write(msg));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** stdin ended: no answer can arrive any more; every waiting request is abandoned now. */
  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) p.settle({ kind: 'abandoned', why: 'closed' });
  }
}
