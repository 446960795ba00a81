import type { Command } from 'commander';
import type { Deps } from '../deps.js';
import { UsageError } from '../errors.js';
import type { AuditLog } from '../policy/auditLog.js';
import type { RelayHook } from '../policy/policyHook.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Tool policy and audit flags of the bridge. */
export function addPolicyOptions(cmd: Command): Command {
  return cmd
    .option('--allow-tool <glob>', 'only these tools are reachable (repeatable; * and ? globs)', collect)
    .option('--deny-tool <glob>', 'never reach these tools; wins over --allow-tool (repeatable)', collect)
    .option('--deny-destructive', 'refuse tools the gateway annotates destructiveHint: true')
    .option('--read-only', 'refuse every tool not annotated readOnlyHint: true')
    .option('--max-calls-per-minute <N|glob=N>', 'call budget, for all tools or per tool glob (repeatable)', collect)
    .option('--audit-log <file>', 'append one JSON line per tool call (no argument values) to this file (0600)');
}

export interface RawPolicyFlags {
  allowTool?: string[];
  denyTool?: string[];
  denyDestructive?: boolean;
  readOnly?: boolean;
  maxCallsPerMinute?: string[];
  auditLog?: string;
}

/** True when any policy or audit flag was given. */
export function policyRequested(f: RawPolicyFlags): boolean {
  return Boolean(f.allowTool?.length || f.denyTool?.length || f.denyDestructive || f.readOnly || f.maxCallsPerMinute?.length || f.auditLog);
}

/** Build the relay hook for the policy flags (modules loaded only when a flag is given). */
export async function buildPolicyHook(
  f: RawPolicyFlags,
  deps: Deps,
  server: string,
  subject: () => Promise<string | undefined>,
): Promise<{ hook: RelayHook; audit?: AuditLog } | undefined> {
  if (!policyRequested(f)) return undefined;
  const [{ ToolPolicy }, { RateLimiter, parseRateRule }, { PolicyHook }, { AuditLog }] = await Promise.all([
    import('../policy/toolPolicy.js'),
    import('../policy/rateLimiter.js'),
    import('../policy/policyHook.js'),
    import('../policy/auditLog.js'),
  ]);
  const rules = (f.maxCallsPerMinute ?? []).map((text) => {
    const rule = parseRateRule(text);
    if (!rule) throw new UsageError(`--max-calls-per-minute takes N or glob=N (N a positive whole number), got "${text}"`);
    return rule;
  });
  let audit: AuditLog | undefined;
  if (f.auditLog) {
    try {
      audit = await AuditLog.open(f.auditLog, (err) => deps.log.error(`audit log ${f.auditLog}: ${err.message}`));
    } catch (err) {
      throw new UsageError(`--audit-log ${f.auditLog}: cannot open it for appending (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const hook = new PolicyHook({
    policy: new ToolPolicy({ allow: f.allowTool ?? [], deny: f.denyTool ?? [], denyDestructive: f.denyDestructive === true, readOnly: f.readOnly === true }),
    limiter: new RateLimiter(rules),
    audit,
    server,
    clock: deps.clock,
    subject,
  });
  return { hook, audit };
}
