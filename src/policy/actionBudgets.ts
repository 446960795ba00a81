import { globToRegExp } from './glob.js';
import type { BudgetLedger, BudgetWindow } from './budgetLedger.js';
import type { ToolAnnotations } from './toolPolicy.js';

/** Kinds of action a budget can count, by the tool's annotations. */
export const BUDGET_KINDS = ['read', 'write', 'destructive'] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];

/** One budget: at most `limit` calls of a kind (or of tools matching a glob) per window. */
export interface BudgetRule {
  kind?: BudgetKind;
  glob?: string;
  limit: number;
  windowMs: number;
  /** Canonical text, e.g. "write=10/5m": the counter's name, shared by every bridge that has it. */
  text: string;
  /** Where the rule came from, as the error names it: "--budget write=10/5m", "--max-calls-per-minute 30". */
  source: string;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;
const MAX_WINDOW_MS = 7 * 24 * 3_600_000;
const MAX_LIMIT = 100_000;

/** "5m" → 300000; undefined unless a positive whole number of s, m or h (up to a week). */
export function parseWindow(text: string): number | undefined {
  const m = /^(\d{1,6})([smh])$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms > 0 && ms <= MAX_WINDOW_MS ? ms : undefined;
}

/** 300000 → "5m" (the largest unit that divides it). */
export function formatWindow(ms: number): string {
  if (ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  if (ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** "N/WINDOW" → limit and window, or an error text. */
export function parseRate(text: string): { limit: number; windowMs: number } | string {
  const slash = text.indexOf('/');
  if (slash < 0) return `expected N/WINDOW such as 10/5m (windows in s, m or h), got "${text}"`;
  const limit = Number(text.slice(0, slash).trim());
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return `the count in "${text}" must be a whole number from 1 to ${MAX_LIMIT}`;
  const windowMs = parseWindow(text.slice(slash + 1));
  if (windowMs === undefined) return `the window in "${text}" must be a whole number of s, m or h (at most a week), e.g. 30s, 5m, 1h`;
  return { limit, windowMs };
}

/** Build a rule for a target (a kind, or a tool glob) and a rate; an error text when invalid. */
export function budgetRule(target: string, rate: string, source?: string): BudgetRule | string {
  const t = target.trim();
  if (t === '') return `a budget needs a kind (${BUDGET_KINDS.join(', ')}) or a tool glob before "="`;
  const parsed = parseRate(rate);
  if (typeof parsed === 'string') return parsed;
  const text = `${t}=${parsed.limit}/${formatWindow(parsed.windowMs)}`;
  const kind = (BUDGET_KINDS as readonly string[]).includes(t) ? (t as BudgetKind) : undefined;
  return { ...(kind ? { kind } : { glob: t }), ...parsed, text, source: source ?? `--budget ${text}` };
}

/** "--budget KIND=N/WINDOW" (KIND: read, write, destructive, or a tool glob such as 'delete_*'). */
export function parseBudget(text: string): BudgetRule | string {
  const eq = text.lastIndexOf('=');
  if (eq < 0) return `--budget takes KIND=N/WINDOW (KIND: ${BUDGET_KINDS.join(', ')} or a tool glob), got "${text}"`;
  return budgetRule(text.slice(0, eq), text.slice(eq + 1));
}

/** "--max-calls-per-minute N|GLOB=N": shorthand for a budget of N per 1m, on every tool or a glob. */
export function parseCallsPerMinute(text: string): BudgetRule | string {
  const eq = text.lastIndexOf('=');
  const target = eq > 0 ? text.slice(0, eq) : '*';
  const n = eq > 0 ? text.slice(eq + 1) : text;
  if (!/^\d+$/.test(n.trim())) return `--max-calls-per-minute takes N or glob=N (N a positive whole number), got "${text}"`;
  return budgetRule(target, `${n.trim()}/1m`, `--max-calls-per-minute ${text}`);
}

/**
 * Does the rule count this call? read: annotated readOnlyHint: true. write: everything else (a tool
 * tools/list never described counts as a write). destructive: annotated destructiveHint: true, or
 * never described (fail closed).
 */
export function ruleApplies(rule: BudgetRule, tool: string, annotations: ToolAnnotations | undefined, known: boolean, re?: RegExp): boolean {
  const readOnly = known && annotations?.readOnlyHint === true;
  switch (rule.kind) {
    case 'read':
      return readOnly;
    case 'write':
      return !readOnly;
    case 'destructive':
      return !known || annotations?.destructiveHint === true;
    default:
      return (re ?? globToRegExp(rule.glob ?? '')).test(tool);
  }
}

/** An over-budget call: which rule, and from when it may be retried. */
export interface OverBudget {
  rule: BudgetRule;
  retryAt: number;
}

/** The budgets of one bridge, counted in a ledger shared per user and server. */
export class ActionBudgets {
  private readonly rules: { rule: BudgetRule; re?: RegExp }[];

  constructor(rules: BudgetRule[], private readonly ledger: BudgetLedger) {
    // The same rule given twice (file and flag) is one counter.
    const seen = new Set<string>();
    this.rules = rules.filter((r) => !seen.has(r.text) && seen.add(r.text)).map((rule) => ({ rule, re: rule.glob ? globToRegExp(rule.glob) : undefined }));
  }

  get active(): boolean {
    return this.rules.length > 0;
  }

  get needsAnnotations(): boolean {
    return this.rules.some((r) => r.rule.kind !== undefined);
  }

  /** The rules that count this call (none: the call is not counted at all). */
  applicable(tool: string, annotations: ToolAnnotations | undefined, known: boolean): BudgetRule[] {
    return this.rules.filter((r) => ruleApplies(r.rule, tool, annotations, known, r.re)).map((r) => r.rule);
  }

  /** Count the call against every applicable rule, or refuse it if any of them is spent. */
  async take(rules: BudgetRule[], user: string, now: number): Promise<OverBudget | undefined> {
    if (rules.length === 0) return undefined;
    const windows: BudgetWindow[] = rules.map((r) => ({ key: `${user} ${r.text}`, limit: r.limit, windowMs: r.windowMs }));
    const result = await this.ledger.take(windows, now);
    return result.granted ? undefined : { rule: rules[result.index]!, retryAt: result.retryAt };
  }
}

/** "in 4 min 12 s" for a wait in ms (rounded up to whole seconds). */
export function describeWait(ms: number): string {
  const total = Math.max(1, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : '', s ? `${s} s` : ''].filter(Boolean).join(' ');
}
