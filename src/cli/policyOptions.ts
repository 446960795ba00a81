import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Deps } from '../deps.js';
import { UsageError } from '../errors.js';
import type { BudgetRule } from '../policy/actionBudgets.js';
import type { AlertThreshold } from '../policy/alerts.js';
import type { AuditLog } from '../policy/auditLog.js';
import type { SignedInUser } from '../policy/callAdmission.js';
import type { EffectivePolicy } from '../policy/effectivePolicy.js';
import type { PolicySpec } from '../policy/policyFile.js';
import type { RelayHook } from '../policy/policyHook.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Tool policy, approval, budget, alert and audit flags of the bridge (also read by `doctor`). */
export function addPolicyOptions(cmd: Command): Command {
  return cmd
    .option('--policy <file>', 'read the policy from this file (JSON with comments; see the README); the flags below add to it')
    .option('--allow-tool <glob>', 'only these tools are reachable (repeatable; * and ? globs)', collect)
    .option('--deny-tool <glob>', 'never reach these tools; wins over --allow-tool (repeatable)', collect)
    .option('--deny-destructive', 'refuse tools the gateway annotates destructiveHint: true')
    .option('--read-only', 'refuse every tool not annotated readOnlyHint: true')
    .option('--confirm-tool <glob>', 'ask the person at the IDE (MCP elicitation) before each call of these tools (repeatable)', collect)
    .option('--confirm-destructive', 'ask before calling tools annotated destructiveHint: true')
    .option('--confirm-writes', 'ask before calling any tool not annotated readOnlyHint: true')
    .option('--confirm-timeout <seconds>', 'how long a question waits for an answer before the call is refused (default 120)')
    .addOption(new Option('--remember-approval <scope>', 'an accept holds for the same tool for the rest of the process').choices(['session', 'never']))
    .option('--budget <kind=N/window>', 'call budget per user and server, shared by the bridges on this machine: kind read, write, destructive or a tool glob; window in s, m or h (repeatable)', collect)
    .option('--max-calls-per-minute <N|glob=N>', 'shorthand for --budget \'*=N/1m\' (or glob=N/1m) (repeatable)', collect)
    .option('--alert-command <command>', 'run this command (split on spaces, no shell) with a JSON event on stdin when an --alert-on threshold is crossed')
    .option('--alert-on <kind=N/window,…>', 'alert thresholds: refused=N/window, errors=N/window (repeatable or comma-separated)', collect)
    .option('--audit-log <file>', 'append one JSON line per tool call, approval and alert (no argument values) to this file (0600)');
}

export interface RawPolicyFlags {
  policy?: string;
  allowTool?: string[];
  denyTool?: string[];
  denyDestructive?: boolean;
  readOnly?: boolean;
  confirmTool?: string[];
  confirmDestructive?: boolean;
  confirmWrites?: boolean;
  confirmTimeout?: string;
  rememberApproval?: 'session' | 'never';
  budget?: string[];
  maxCallsPerMinute?: string[];
  alertCommand?: string;
  alertOn?: string[];
  auditLog?: string;
}

/** True when any policy, approval, budget, alert or audit flag was given. */
export function policyRequested(f: RawPolicyFlags): boolean {
  return Boolean(
    f.policy || f.allowTool?.length || f.denyTool?.length || f.denyDestructive || f.readOnly || f.confirmTool?.length || f.confirmDestructive ||
      f.confirmWrites || f.budget?.length || f.maxCallsPerMinute?.length || f.alertOn?.length || f.auditLog,
  );
}

/** Read the policy file (if any) and add the flags to it; every mistake is a UsageError naming it. */
export async function loadEffectivePolicy(f: RawPolicyFlags, cwd: string): Promise<EffectivePolicy> {
  const [{ parseBudget, parseCallsPerMinute }, { alertArgv, parseAlertOn }, { mergePolicy }, { parsePolicyFile, PolicyFileError }] = await Promise.all([
    import('../policy/actionBudgets.js'),
    import('../policy/alerts.js'),
    import('../policy/effectivePolicy.js'),
    import('../policy/policyFile.js'),
  ]);
  let file: PolicySpec | undefined;
  const sources: string[] = [];
  if (f.policy) {
    const location = path.resolve(cwd, f.policy);
    let text: string;
    try {
      text = await readFile(location, 'utf8');
    } catch (err) {
      throw new UsageError(`--policy ${f.policy}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    try {
      file = parsePolicyFile(text, location);
    } catch (err) {
      if (err instanceof PolicyFileError) throw new UsageError(`--policy: ${err.message}`);
      throw err;
    }
    sources.push(location);
  }
  const rule = (parsed: BudgetRule | string): BudgetRule => {
    if (typeof parsed === 'string') throw new UsageError(parsed);
    return parsed;
  };
  const flags: PolicySpec = {
    allowTools: f.allowTool,
    denyTools: f.denyTool,
    denyDestructive: f.denyDestructive,
    readOnly: f.readOnly,
    confirmTools: f.confirmTool,
    confirmDestructive: f.confirmDestructive,
    confirmWrites: f.confirmWrites,
    confirmTimeoutMs: f.confirmTimeout === undefined ? undefined : seconds(f.confirmTimeout, '--confirm-timeout'),
    rememberApproval: f.rememberApproval,
    budgets: [...(f.budget ?? []).map((t) => rule(parseBudget(t))), ...(f.maxCallsPerMinute ?? []).map((t) => rule(parseCallsPerMinute(t)))],
    alertCommand: f.alertCommand === undefined ? undefined : alertArgv(f.alertCommand) ?? usage('--alert-command needs a command'),
    alertOn: (f.alertOn ?? []).flatMap((t): AlertThreshold[] => {
      const parsed = parseAlertOn(t);
      if (typeof parsed === 'string') throw new UsageError(parsed);
      return parsed;
    }),
    auditLog: f.auditLog,
  };
  if (policyRequested({ ...f, policy: undefined }) || f.confirmTimeout || f.rememberApproval || f.alertCommand) sources.push('flags');
  return mergePolicy(file, flags, sources);
}

function usage(message: string): never {
  throw new UsageError(message);
}

function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new UsageError(`${flag} takes a number of seconds from 1 to 3600, got "${value}"`);
  return Math.round(n * 1000);
}

export interface PolicyHookContext {
  /** The canonical gateway URL. */
  server: string;
  /** Who is signed in (from the stored session), if anyone. */
  user(): Promise<SignedInUser>;
}

/** The policy hook and what must be flushed when the bridge ends. */
export interface BuiltPolicy {
  hook: RelayHook;
  /** Wait for alert commands in progress (bounded), then close the audit log. */
  close(): Promise<void>;
}

/** Build the relay hook for the policy (modules loaded only when a policy flag is given). */
export async function buildPolicyHook(f: RawPolicyFlags, deps: Deps, ctx: PolicyHookContext): Promise<BuiltPolicy | undefined> {
  if (!policyRequested(f)) return undefined;
  const policy = await loadEffectivePolicy(f, deps.cwd);
  const { policyIsEmpty } = await import('../policy/effectivePolicy.js');
  if (policyIsEmpty(policy)) return undefined;
  const { assemblePolicyHook } = await import('../policy/policyAssembly.js');
  let audit: AuditLog | undefined;
  if (policy.auditLog) {
    const { AuditLog } = await import('../policy/auditLog.js');
    try {
      audit = await AuditLog.open(policy.auditLog, (err) => deps.log.error(`audit log ${policy.auditLog}: ${err.message}`));
    } catch (err) {
      throw new UsageError(`--audit-log ${policy.auditLog}: cannot open it for appending (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  // node:child_process only now, for the alert command: a bridge without a policy never loads it.
  return assemblePolicyHook(policy, { deps, server: ctx.server, user: ctx.user, audit, spawn: process.getBuiltinModule('node:child_process').spawn });
}
