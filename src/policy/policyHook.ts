import type { Clock } from '../deps.js';
import type { Envelope } from '../relay/envelopeScanner.js';
import { ErrorCodes, type JsonRpcId, type JsonRpcMessage } from '../relay/jsonRpc.js';
import type { AuditLog, AuditOutcome } from './auditLog.js';
import { hashArguments } from './auditLog.js';
import { elicitationSupport, type ElicitationSupport } from './approvals.js';
import type { CallAdmission } from './callAdmission.js';
import type { ToolAnnotations, ToolPolicy } from './toolPolicy.js';
import type { IdeRequests } from '../relay/ideRequests.js';

/** What an admission check may use: the request's abort signal and a way to ask the IDE. */
export interface AdmitContext {
  signal: AbortSignal;
  ide: IdeRequests;
}

/** What the relay asks of a policy at the two points where messages pass. */
export interface RelayHook {
  /** An IDE → gateway request; a returned error is answered instead of forwarding it. */
  beforeForward(msg: JsonRpcMessage): JsonRpcMessage['error'] | undefined;
  /** A gateway → IDE message; returns the text to write (rewritten when the policy filters it). */
  beforeDeliver(raw: string | Buffer, msg?: JsonRpcMessage): string | Buffer;
  /** The bridge answered a request with an error because it could not be forwarded. */
  onForwardFailed(id: JsonRpcId, message: string): void;
  /** A gateway → IDE message too large to hold went to the IDE as it arrived: only its envelope is known. */
  afterStreamed?(env: Envelope): void;
  /** True when the answer to this request must be read whole (a tools/list the policy filters). */
  wholeAnswer?(id: JsonRpcId): boolean;
  /**
   * Checks that take time (shared budgets, asking the person) for the requests they concern,
   * after beforeForward let the request through; undefined for every other request, which is then
   * forwarded at once. A returned error is answered instead of forwarding.
   */
  admit?(msg: JsonRpcMessage, ctx: AdmitContext): Promise<JsonRpcMessage['error'] | undefined> | undefined;
}

type Tracked = { kind: 'list' } | { kind: 'call'; tool: string; argsSha256: string; started: number };

export interface PolicyHookOptions {
  policy: ToolPolicy;
  /** Shared budgets and approvals (the checks that take time), when any is configured. */
  admission?: CallAdmission;
  audit?: AuditLog;
  /** Every call's outcome as it is known (alerts count refusals and errors). */
  onOutcome?(tool: string, outcome: AuditOutcome, detail?: string): void;
  server: string;
  clock: Clock;
  /** The signed-in subject, if known (from the stored session's claims). */
  subject(): Promise<string | undefined>;
}

/**
 * Tool policy, budgets, approvals and the audit log, applied at the relay. Messages are parsed only for
 * requests this hook tracks (tools/list when a policy is set, tools/call when auditing), so the
 * relay's hot path is untouched when none of these flags is given.
 */
export class PolicyHook implements RelayHook {
  private readonly tracked = new Map<JsonRpcId, Tracked>();
  private readonly annotations = new Map<string, ToolAnnotations | undefined>();
  /** What the IDE's initialize said about elicitation (approvals ask through it). */
  private elicitation: ElicitationSupport = 'none';

  constructor(private readonly o: PolicyHookOptions) {}

  beforeForward(msg: JsonRpcMessage): JsonRpcMessage['error'] | undefined {
    const id = msg.id as JsonRpcId;
    if (msg.method === 'tools/list') {
      if (this.o.policy.active || this.o.admission?.needsAnnotations) this.tracked.set(id, { kind: 'list' });
      return undefined;
    }
    if (msg.method === 'initialize') {
      this.elicitation = elicitationSupport((msg.params as { capabilities?: unknown } | undefined)?.capabilities);
      return undefined;
    }
    if (msg.method !== 'tools/call') return undefined;
    const params = (msg.params ?? {}) as { name?: unknown; arguments?: unknown };
    // Fail closed: a name that is not a string is no tool the rules could have been written for.
    if (typeof params.name !== 'string') return { code: ErrorCodes.InvalidParams, message: 'mcp-keybridge: a tools/call needs params.name, a string', data: { reason: 'policy' } };
    const tool = params.name;
    const started = this.o.clock.now();
    const argsSha256 = this.o.audit ? hashArguments(params.arguments) : '';
    const verdict = this.o.policy.check(tool, this.annotations.get(tool), this.annotations.has(tool));
    if (verdict) {
      this.record(tool, argsSha256, 'refused-by-policy', started, verdict.refusedBy);
      return { code: ErrorCodes.PolicyRefused, message: `mcp-keybridge: the tool "${tool}" is refused by ${verdict.refusedBy}`, data: { reason: 'policy', rule: verdict.refusedBy } };
    }
    if (this.o.audit || this.o.onOutcome) this.tracked.set(id, { kind: 'call', tool, argsSha256, started });
    return undefined;
  }

  admit(msg: JsonRpcMessage, ctx: AdmitContext): Promise<JsonRpcMessage['error'] | undefined> | undefined {
    const admission = this.o.admission;
    if (!admission || msg.method !== 'tools/call') return undefined;
    const params = (msg.params ?? {}) as { name?: unknown; arguments?: unknown };
    if (typeof params.name !== 'string') return undefined;
    const tool = params.name;
    const plan = admission.plan(tool, this.annotations.get(tool), this.annotations.has(tool));
    if (!plan) return undefined;
    const id = msg.id as JsonRpcId;
    const tracked = this.tracked.get(id);
    const argsSha256 = tracked?.kind === 'call' ? tracked.argsSha256 : this.o.audit ? hashArguments(params.arguments) : '';
    const started = tracked?.kind === 'call' ? tracked.started : this.o.clock.now();
    return admission.decide(plan, { tool, args: params.arguments, argsSha256 }, { ...ctx, support: this.elicitation }).then((refusal) => {
      if (!refusal) return undefined;
      if (this.tracked.get(id) === tracked) this.tracked.delete(id);
      this.record(tool, argsSha256, refusal.outcome, started, refusal.detail);
      return refusal.error;
    });
  }

  beforeDeliver(raw: string | Buffer, msg?: JsonRpcMessage): string | Buffer {
    if (this.tracked.size === 0) return raw;
    const m = msg ?? (JSON.parse(raw.toString()) as JsonRpcMessage);
    if (m.method !== undefined || m.id === undefined || m.id === null) return raw;
    const t = this.tracked.get(m.id);
    if (!t) return raw;
    this.tracked.delete(m.id);
    if (t.kind === 'call') {
      const failed = m.error !== undefined || (m.result as { isError?: unknown } | undefined)?.isError === true;
      this.record(t.tool, t.argsSha256, failed ? 'error' : 'ok', t.started);
      return raw;
    }
    return this.filterList(raw, m);
  }

  afterStreamed(env: Envelope): void {
    if (env.hasMethod || env.id === undefined || env.id === null) return;
    const t = this.tracked.get(env.id);
    // A list answer is asked for whole (wholeAnswer); one streamed elsewhere is not the awaited answer.
    if (t?.kind !== 'call') return;
    this.tracked.delete(env.id);
    this.record(t.tool, t.argsSha256, env.hasError ? 'error' : 'ok', t.started);
  }

  wholeAnswer(id: JsonRpcId): boolean {
    return this.tracked.get(id)?.kind === 'list';
  }

  onForwardFailed(id: JsonRpcId, message: string): void {
    const t = this.tracked.get(id);
    this.tracked.delete(id);
    if (t?.kind === 'call') this.record(t.tool, t.argsSha256, 'error', t.started, message);
  }

  /** Learn every tool's annotations, then drop the refused tools from the list. */
  private filterList(raw: string | Buffer, m: JsonRpcMessage): string | Buffer {
    const result = m.result as { tools?: { name?: unknown; annotations?: ToolAnnotations }[] } | undefined;
    if (!result || !Array.isArray(result.tools)) return raw;
    for (const tool of result.tools) {
      if (typeof tool.name === 'string') this.annotations.set(tool.name, tool.annotations);
    }
    const kept = result.tools.filter((tool) => typeof tool.name === 'string' && !this.o.policy.check(tool.name, tool.annotations, true));
    if (kept.length === result.tools.length) return raw;
    return JSON.stringify({ ...m, result: { ...result, tools: kept } });
  }

  private record(tool: string, argsSha256: string, outcome: AuditOutcome, started: number, detail?: string): void {
    this.o.onOutcome?.(tool, outcome, detail);
    const audit = this.o.audit;
    if (!audit) return;
    const now = this.o.clock.now();
    void this.o.subject().then(
      (subject) => subject,
      () => undefined,
    ).then((subject) =>
      audit.append({
        time: new Date(now).toISOString(),
        server: this.o.server,
        subject: subject ?? null,
        tool,
        argsSha256,
        outcome,
        durationMs: now - started,
        ...(detail ? { detail } : {}),
      }),
    );
  }
}
