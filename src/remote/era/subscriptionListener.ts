import type { JsonRpcMessage } from '../../relay/jsonRpc.js';
import { prepareMessage } from '../../relay/jsonEnvelope.js';
import type { TransportContext } from '../remoteTransport.js';
import { consumeSse } from '../sseStream.js';
import { postModern, type ModernPost } from './modernExchange.js';

/** The `notifications` filter of subscriptions/listen (2026-07-28 basic/patterns/subscriptions). */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

const MAX_BACKOFF_MS = 30_000;
/** Consecutive refusals (4xx) after which the gateway is taken not to offer subscriptions. */
const MAX_REFUSALS = 3;

/**
 * The long-lived subscriptions/listen stream that replaces the 2025 GET stream: it carries the
 * list-changed notifications and resource updates the IDE gets from a 2025 server unasked. It is
 * reopened (with backoff) when it drops, and re-sent when the filter changes.
 */
export class SubscriptionListener {
  private filter: ListenFilter = {};
  private current?: AbortController;
  private running?: Promise<void>;
  private counter = 0;
  private stopped = false;

  constructor(
    private readonly ctx: TransportContext,
    private readonly shutdown: AbortSignal,
    /** The POST for a listen request with this id and filter (the transport adds _meta and headers). */
    private readonly postFor: (id: string, filter: ListenFilter) => ModernPost,
  ) {}

  /** Listen with this filter from now on (nothing is opened for an empty one). */
  update(filter: ListenFilter): void {
    if (this.stopped || sameFilter(filter, this.filter)) return;
    this.filter = filter;
    this.current?.abort();
    if (isEmpty(filter)) return;
    const previous = this.running;
    this.running = (async () => {
      await previous?.catch(() => undefined);
      await this.run();
    })();
  }

  stop(): void {
    this.stopped = true;
    this.current?.abort();
  }

  private async run(): Promise<void> {
    const mine = new AbortController();
    this.current = mine;
    const filter = this.filter;
    let failures = 0;
    let refusals = 0;
    while (!this.stopped && !mine.signal.aborted && !this.shutdown.aborted) {
      const id = `keybridge-listen-${++this.counter}`;
      try {
        const res = await postModern(this.ctx, { ...this.postFor(id, filter), signal: mine.signal }, this.shutdown);
        if (res.status >= 400 && res.status < 500) {
          res.body.discard();
          if (++refusals >= MAX_REFUSALS) {
            this.ctx.log.info(`the gateway refused subscriptions/listen (HTTP ${res.status}); list changes will not be pushed`);
            return;
          }
        } else if (res.status !== 200) {
          res.body.discard();
        } else {
          refusals = 0;
          await consumeSse(res.body, {}, async (ev) => {
            if (ev.data.length === 0 || (ev.event && ev.event !== 'message')) return false;
            const prepared = prepareMessage(ev.data);
            if (!prepared) return false;
            failures = 0;
            const msg = prepared.msg as JsonRpcMessage | undefined;
            // The acknowledgment and the listen request's own (closing) answer are for the bridge.
            if (!prepared.env.hasMethod || msg?.method === 'notifications/subscriptions/acknowledged') return !prepared.env.hasMethod;
            await this.ctx.deliver(prepared.bytes, msg);
            return false;
          }, undefined, this.ctx.limits);
        }
      } catch (err) {
        if (mine.signal.aborted || this.shutdown.aborted) return;
        this.ctx.log.debug(`subscription stream: ${(err as Error).message}`);
      }
      failures++;
      const ms = Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(failures - 1, 5)) * (0.5 + this.ctx.random() / 2);
      try {
        await this.ctx.sleep(ms, AbortSignal.any([mine.signal, this.shutdown]));
      } catch {
        return;
      }
    }
  }
}

function isEmpty(f: ListenFilter): boolean {
  return !f.toolsListChanged && !f.promptsListChanged && !f.resourcesListChanged && !(f.resourceSubscriptions && f.resourceSubscriptions.length > 0);
}

function sameFilter(a: ListenFilter, b: ListenFilter): boolean {
  return JSON.stringify(normal(a)) === JSON.stringify(normal(b));
}

function normal(f: ListenFilter): ListenFilter {
  return {
    toolsListChanged: f.toolsListChanged === true,
    promptsListChanged: f.promptsListChanged === true,
    resourcesListChanged: f.resourcesListChanged === true,
    resourceSubscriptions: [...(f.resourceSubscriptions ?? [])].sort(),
  };
}
