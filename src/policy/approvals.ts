import type { IdeRequests } from '../relay/ideRequests.js';
import { globToRegExp } from './glob.js';
import type { ToolAnnotations } from './toolPolicy.js';

export interface ApprovalRulesOptions {
  /** --confirm-tool globs. */
  tools: string[];
  /** --confirm-destructive: tools annotated destructiveHint: true. */
  destructive: boolean;
  /** --confirm-writes: every tool not annotated readOnlyHint: true. */
  writes: boolean;
}

/** Which calls need a person's yes before they are forwarded. */
export class ApprovalRules {
  private readonly tools: { glob: string; re: RegExp }[];

  constructor(private readonly o: ApprovalRulesOptions) {
    this.tools = o.tools.map((glob) => ({ glob, re: globToRegExp(glob) }));
  }

  get active(): boolean {
    return this.tools.length > 0 || this.o.destructive || this.o.writes;
  }

  get needsAnnotations(): boolean {
    return this.o.destructive || this.o.writes;
  }

  /**
   * The rule that asks about this call, or undefined. A tool tools/list never described is asked
   * about under the annotation rules (fail closed: it may be destructive).
   */
  ruleFor(tool: string, annotations: ToolAnnotations | undefined, known: boolean): string | undefined {
    const glob = this.tools.find((t) => t.re.test(tool));
    if (glob) return `--confirm-tool ${glob.glob}`;
    if (!this.needsAnnotations) return undefined;
    const flag = this.o.writes ? '--confirm-writes' : '--confirm-destructive';
    if (!known) return `${flag} (the gateway has not described "${tool}" in tools/list)`;
    if (this.o.writes && annotations?.readOnlyHint !== true) return '--confirm-writes (not annotated readOnlyHint: true)';
    if (this.o.destructive && annotations?.destructiveHint === true) return '--confirm-destructive (annotated destructiveHint: true)';
    return undefined;
  }
}

/** What the IDE said it can do with elicitation/create, from its initialize request. */
export type ElicitationSupport = 'none' | 'form' | 'form-legacy';

/**
 * Read the IDE's elicitation capability. MCP 2025-11-25: `elicitation: { form: {}, url: {} }`,
 * and an empty object means form mode (the 2025-06-18 shape, where requests carry no `mode`).
 */
export function elicitationSupport(capabilities: unknown): ElicitationSupport {
  if (!capabilities || typeof capabilities !== 'object') return 'none';
  const e = (capabilities as { elicitation?: unknown }).elicitation;
  if (!e || typeof e !== 'object' || Array.isArray(e)) return 'none';
  const modes = e as { form?: unknown; url?: unknown };
  if (modes.form !== undefined) return 'form';
  return modes.url !== undefined ? 'none' : 'form-legacy';
}

/** The answer to an approval question, as recorded in the audit log. */
export type ApprovalAnswer = 'accept' | 'remembered' | 'decline' | 'cancel' | 'timeout' | 'unsupported' | 'ide-error' | 'abandoned';

export interface ApprovalQuestion {
  tool: string;
  rule: string;
  server: string;
  /** Who is signed in, as shown to the person (e-mail or subject), if known. */
  user?: string;
  /** sanitized one-line summary of the arguments (see argumentSummary.ts) */
  argumentSummary: string;
  /** SHA-256 of the arguments, for the audit log (never shown, never the values). */
  argsSha256?: string;
}

export interface ApproverOptions {
  timeoutMs: number;
  /** 'session': an accept holds for the same tool until the bridge exits. */
  remember: 'never' | 'session';
  /** Called when a question is sent and when it is answered (the audit log). */
  onEvent?(e: { phase: 'asked' | 'answered'; question: ApprovalQuestion; questionId: number; answer?: ApprovalAnswer; waitedMs?: number }): void;
  clock: { now(): number };
}

export interface AskContext {
  ide: IdeRequests;
  support: ElicitationSupport;
  signal: AbortSignal;
}

/** Asks the person at the IDE, through MCP elicitation (form mode), before a call is forwarded. */
export class Approver {
  private readonly remembered = new Set<string>();
  private questions = 0;

  constructor(private readonly o: ApproverOptions) {}

  /** Ask; only an explicit accept (or one remembered for this tool) approves. */
  async ask(q: ApprovalQuestion, ctx: AskContext): Promise<ApprovalAnswer> {
    if (this.remembered.has(q.tool)) return 'remembered';
    if (ctx.support === 'none') return 'unsupported';
    const questionId = ++this.questions;
    const started = this.o.clock.now();
    this.o.onEvent?.({ phase: 'asked', question: q, questionId });
    const params: Record<string, unknown> = {
      message: questionText(q),
      // Nothing to fill in: the person's choice is the action itself (accept / decline).
      requestedSchema: { type: 'object', properties: {} },
    };
    if (ctx.support === 'form') params.mode = 'form';
    const reply = await ctx.ide.request('elicitation/create', params, { timeoutMs: this.o.timeoutMs, signal: ctx.signal });
    const answer = answerOf(reply);
    if (answer === 'accept' && this.o.remember === 'session') this.remembered.add(q.tool);
    this.o.onEvent?.({ phase: 'answered', question: q, questionId, answer, waitedMs: this.o.clock.now() - started });
    return answer;
  }
}

function answerOf(reply: Awaited<ReturnType<IdeRequests['request']>>): ApprovalAnswer {
  if (reply.kind === 'abandoned') return reply.why === 'timeout' ? 'timeout' : 'abandoned';
  if (reply.kind === 'error') return 'ide-error';
  const action = (reply.result as { action?: unknown } | undefined)?.action;
  return action === 'accept' ? 'accept' : action === 'decline' ? 'decline' : 'cancel';
}

/** The question as the person reads it. */
export function questionText(q: ApprovalQuestion): string {
  return [
    `Allow the tool "${q.tool}" on ${q.server}?`,
    `Signed in as: ${q.user ?? '(no signed-in user)'}`,
    `Arguments: ${q.argumentSummary}`,
    `Asked by mcp-keybridge because of ${q.rule}. Accept to run it once; decline to refuse it.`,
  ].join('\n');
}

/** Why a call was not approved, for the JSON-RPC error the IDE gets. */
export function refusalText(tool: string, rule: string, answer: ApprovalAnswer, timeoutMs: number): string {
  switch (answer) {
    case 'decline':
      return `the call to "${tool}" was declined (${rule} asks first)`;
    case 'cancel':
      return `the approval question for "${tool}" was dismissed without an answer (${rule} asks first)`;
    case 'timeout':
      return `the approval question for "${tool}" was not answered within ${Math.round(timeoutMs / 1000)} s (--confirm-timeout; ${rule} asks first)`;
    case 'unsupported':
      return `"${tool}" needs approval (${rule}) but this IDE did not declare the MCP elicitation capability, so it cannot be asked; use an IDE that supports elicitation or change the rule`;
    case 'ide-error':
      return `the IDE could not show the approval question for "${tool}" (${rule} asks first)`;
    default:
      return `the approval question for "${tool}" was abandoned (${rule} asks first)`;
  }
}
