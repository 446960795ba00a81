import type { Clock } from '../deps.js';
import { ErrorCodes, type JsonRpcMessage } from '../relay/jsonRpc.js';
import type { AdmitContext } from './policyHook.js';
import { describeWait, formatWindow, type ActionBudgets, type BudgetRule } from './actionBudgets.js';
import { refusalText, type ApprovalRules, type Approver, type ElicitationSupport } from './approvals.js';
import { summarizeArguments } from './argumentSummary.js';
import type { AuditOutcome } from './auditLog.js';
import type { ToolAnnotations } from './toolPolicy.js';

/** Who is signed in: the subject (budgets and the audit log count by it) and what a person reads. */
export interface SignedInUser {
  subject?: string;
  label?: string;
}

export interface CallAdmissionOptions {
  budgets?: ActionBudgets;
  approvals?: { rules: ApprovalRules; approver: Approver; timeoutMs: number };
  server: string;
  clock: Clock;
  user(): Promise<SignedInUser>;
  /** Masks token-shaped text (the logger's redactor). */
  redact(text: string): string;
}

/** The checks that concern one call. */
export interface AdmissionPlan {
  budgets: BudgetRule[];
  approvalRule?: string;
}

/** A refused call: the error for the IDE and what the audit log records. */
export interface AdmissionRefusal {
  error: NonNullable<JsonRpcMessage['error']>;
  outcome: AuditOutcome;
  detail: string;
}

type RpcError = NonNullable<JsonRpcMessage['error']>;

/**
 * The checks of a tools/call that take time: shared budgets (a file under a cross-process lock)
 * and asking the person (elicitation). plan() is synchronous and cheap, so a call neither
 * concerns costs a few glob tests and nothing else.
 */
export class CallAdmission {
  constructor(private readonly o: CallAdmissionOptions) {}

  get needsAnnotations(): boolean {
    return Boolean(this.o.budgets?.needsAnnotations || this.o.approvals?.rules.needsAnnotations);
  }

  plan(tool: string, annotations: ToolAnnotations | undefined, known: boolean): AdmissionPlan | undefined {
    const budgets = this.o.budgets?.applicable(tool, annotations, known) ?? [];
    const approvalRule = this.o.approvals?.rules.ruleFor(tool, annotations, known);
    if (budgets.length === 0 && approvalRule === undefined) return undefined;
    return { budgets, approvalRule };
  }

  /** Count the call, then ask about it; undefined when it may be forwarded. */
  async decide(
    plan: AdmissionPlan,
    call: { tool: string; args: unknown; argsSha256?: string },
    ctx: AdmitContext & { support: ElicitationSupport },
  ): Promise<AdmissionRefusal | undefined> {
    const user = await this.o.user().catch((): SignedInUser => ({}));
    if (plan.budgets.length > 0 && this.o.budgets) {
      const refused = await this.takeBudget(plan.budgets, call.tool, user);
      if (refused) return refused;
    }
    const approvals = this.o.approvals;
    if (plan.approvalRule === undefined || !approvals) return undefined;
    const rule = plan.approvalRule;
    const answer = await approvals.approver.ask(
      { tool: call.tool, rule, server: this.o.server, user: user.label ?? user.subject, argumentSummary: summarizeArguments(call.args, this.o.redact), argsSha256: call.argsSha256 },
      { ide: ctx.ide, support: ctx.support, signal: ctx.signal },
    );
    if (answer === 'accept' || answer === 'remembered') return undefined;
    const error: RpcError = {
      code: ErrorCodes.PolicyRefused,
      message: `mcp-keybridge: ${refusalText(call.tool, rule, answer, approvals.timeoutMs)}`,
      data: { reason: 'approval', rule, answer },
    };
    return { error, outcome: 'refused-by-approval', detail: `${rule}: ${answer}` };
  }

  private async takeBudget(rules: BudgetRule[], tool: string, user: SignedInUser): Promise<AdmissionRefusal | undefined> {
    const now = this.o.clock.now();
    let over;
    try {
      over = await this.o.budgets!.take(rules, user.subject ?? 'anonymous', now);
    } catch (err) {
      // Fail closed: a budget that cannot be counted does not let the call through.
      const message = `mcp-keybridge: "${tool}" was not forwarded: its shared call budget could not be counted (${(err as Error).message})`;
      return { error: { code: ErrorCodes.RateLimited, message, data: { reason: 'budget_unavailable' } }, outcome: 'rate-limited', detail: 'budget unavailable' };
    }
    if (!over) return undefined;
    const { rule, retryAt } = over;
    const waitMs = Math.max(0, retryAt - now);
    const message =
      `mcp-keybridge: "${tool}" is over its call budget (${rule.source}: ${rule.limit} per ${formatWindow(rule.windowMs)}, ` +
      `shared by every bridge of this user and server); retry in ${describeWait(waitMs)}, after ${new Date(retryAt).toISOString()}`;
    return {
      error: { code: ErrorCodes.RateLimited, message, data: { reason: 'rate_limited', rule: rule.source, retryAfterSeconds: Math.ceil(waitMs / 1000), retryAt: new Date(retryAt).toISOString() } },
      outcome: 'rate-limited',
      detail: rule.source,
    };
  }
}
