import { formatWindow, type BudgetRule } from './actionBudgets.js';
import type { AlertThreshold } from './alerts.js';
import type { PolicySpec } from './policyFile.js';

export const DEFAULT_CONFIRM_TIMEOUT_MS = 120_000;

/** The policy a bridge applies: the policy file, with the flags added to it. */
export interface EffectivePolicy {
  allowTools: string[];
  denyTools: string[];
  denyDestructive: boolean;
  readOnly: boolean;
  confirmTools: string[];
  confirmDestructive: boolean;
  confirmWrites: boolean;
  confirmTimeoutMs: number;
  rememberApproval: 'never' | 'session';
  budgets: BudgetRule[];
  alertCommand?: string[];
  alertOn: AlertThreshold[];
  auditLog?: string;
  /** Where it came from, e.g. ["/etc/mcp-policy.json", "flags"]. */
  sources: string[];
}

const union = (a: string[] | undefined, b: string[] | undefined): string[] => [...new Set([...(a ?? []), ...(b ?? [])])];

/**
 * Merge the file's policy and the flags': lists and budgets are added up (every budget applies;
 * the tightest wins), a rule switched on in either stays on, and a single value given by a flag
 * (timeout, remember, audit log, alert command) replaces the file's.
 */
export function mergePolicy(file: PolicySpec | undefined, flags: PolicySpec, sources: string[]): EffectivePolicy {
  const f = file ?? {};
  return {
    allowTools: union(f.allowTools, flags.allowTools),
    denyTools: union(f.denyTools, flags.denyTools),
    denyDestructive: Boolean(f.denyDestructive || flags.denyDestructive),
    readOnly: Boolean(f.readOnly || flags.readOnly),
    confirmTools: union(f.confirmTools, flags.confirmTools),
    confirmDestructive: Boolean(f.confirmDestructive || flags.confirmDestructive),
    confirmWrites: Boolean(f.confirmWrites || flags.confirmWrites),
    confirmTimeoutMs: flags.confirmTimeoutMs ?? f.confirmTimeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS,
    rememberApproval: flags.rememberApproval ?? f.rememberApproval ?? 'never',
    budgets: [...(f.budgets ?? []), ...(flags.budgets ?? [])],
    alertCommand: flags.alertCommand ?? f.alertCommand,
    alertOn: [...(f.alertOn ?? []), ...(flags.alertOn ?? [])],
    auditLog: flags.auditLog ?? f.auditLog,
    sources,
  };
}

/** Does anything in it need the policy hook at all? */
export function policyIsEmpty(p: EffectivePolicy): boolean {
  return (
    p.allowTools.length === 0 && p.denyTools.length === 0 && !p.denyDestructive && !p.readOnly &&
    p.confirmTools.length === 0 && !p.confirmDestructive && !p.confirmWrites &&
    p.budgets.length === 0 && p.alertOn.length === 0 && p.auditLog === undefined
  );
}

/** The policy as a person reads it (`doctor`). */
export function describePolicy(p: EffectivePolicy): string {
  const lines = [`policy (from ${p.sources.join(' + ')}):`];
  const list = (xs: string[]): string => xs.join(', ');
  lines.push(`  allow tools: ${p.allowTools.length ? list(p.allowTools) : 'all'}`);
  lines.push(`  deny tools: ${p.denyTools.length ? list(p.denyTools) : 'none'}`);
  if (p.readOnly) lines.push('  read-only: only tools annotated readOnlyHint: true');
  if (p.denyDestructive) lines.push('  deny destructive: tools annotated destructiveHint: true are refused');
  const asks = [
    ...p.confirmTools.map((g) => `tools matching ${g}`),
    ...(p.confirmWrites ? ['every tool not annotated readOnlyHint: true'] : []),
    ...(p.confirmDestructive ? ['tools annotated destructiveHint: true'] : []),
  ];
  lines.push(
    `  ask first: ${asks.length ? `${list(asks)} (answer within ${Math.round(p.confirmTimeoutMs / 1000)} s; an accept ${p.rememberApproval === 'session' ? 'holds for the tool until the bridge exits' : 'is for one call'})` : 'never'}`,
  );
  lines.push(
    `  budgets (per user and server, shared by this machine's bridges): ${p.budgets.length ? list(p.budgets.map((b) => `${b.kind ?? b.glob} ${b.limit} per ${formatWindow(b.windowMs)}`)) : 'none'}`,
  );
  lines.push(`  alerts: ${p.alertOn.length ? `${list(p.alertOn.map((a) => a.text))} → ${p.alertCommand ? p.alertCommand.join(' ') : 'audit log only (no --alert-command)'}` : 'none'}`);
  lines.push(`  audit log: ${p.auditLog ?? 'none'}`);
  return lines.join('\n');
}
