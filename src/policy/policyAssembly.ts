import type { Deps } from '../deps.js';
import { UsageError } from '../errors.js';
import { lockDir } from '../store/paths.js';
import { ActionBudgets } from './actionBudgets.js';
import { AlertMonitor, AlertRunner, tally, type AlertEvent, type AlertKind, type Spawn } from './alerts.js';
import { ApprovalRules, Approver } from './approvals.js';
import type { AuditEventRecord, AuditLog, AuditOutcome } from './auditLog.js';
import { FileBudgetLedger } from './budgetLedger.js';
import { CallAdmission, type SignedInUser } from './callAdmission.js';
import type { EffectivePolicy } from './effectivePolicy.js';
import { PolicyHook, type RelayHook } from './policyHook.js';
import { ToolPolicy } from './toolPolicy.js';

export interface AssemblyContext {
  deps: Deps;
  server: string;
  user(): Promise<SignedInUser>;
  audit?: AuditLog;
  spawn: Spawn;
}

/** How long an alert command may run, and how long the bridge waits for one when it exits. */
const ALERT_COMMAND_TIMEOUT_MS = 30_000;
const ALERT_DRAIN_MS = 10_000;

/**
 * Variables the alert command gets: enough to reach a desktop notifier or a local forwarder, and
 * MCP_KEYBRIDGE_ALERT_* for its own settings; nothing else of the bridge's environment (where
 * client secrets and bearer tokens may sit).
 */
const ALERT_ENV = /^(PATH|HOME|USER|LOGNAME|LANG|LC_[A-Z]+|TZ|TMPDIR|TEMP|TMP|DISPLAY|WAYLAND_DISPLAY|DBUS_SESSION_BUS_ADDRESS|XDG_RUNTIME_DIR|SYSTEMROOT|SystemRoot|WINDIR|COMSPEC|PATHEXT|APPDATA|LOCALAPPDATA|USERPROFILE|MCP_KEYBRIDGE_ALERT_[A-Z0-9_]+)$/;

function alertEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && ALERT_ENV.test(k)));
}

/** Which alert kind an outcome counts towards, if any. */
function alertKindOf(outcome: AuditOutcome): AlertKind | undefined {
  if (outcome === 'refused-by-policy' || outcome === 'rate-limited' || outcome === 'refused-by-approval') return 'refused';
  return outcome === 'error' ? 'errors' : undefined;
}

/** Build the relay hook for an effective policy: tool rules, shared budgets, approvals, alerts, audit. */
export function assemblePolicyHook(policy: EffectivePolicy, ctx: AssemblyContext): { hook: RelayHook; close(): Promise<void> } {
  const { deps, server, audit } = ctx;
  if (policy.alertCommand && policy.alertOn.length === 0) {
    throw new UsageError('--alert-command needs thresholds: add --alert-on refused=N/WINDOW,errors=N/WINDOW (or "alerts" in the policy file)');
  }
  const subject = async (): Promise<string | undefined> => (await ctx.user().catch((): SignedInUser => ({}))).subject;
  const auditEvent = (fields: Omit<AuditEventRecord, 'time' | 'server' | 'subject'>): void => {
    if (!audit) return;
    const time = new Date(deps.clock.now()).toISOString();
    void subject().then((s) => audit.append({ time, server, subject: s ?? null, ...fields } as AuditEventRecord));
  };

  const budgets = policy.budgets.length
    ? new ActionBudgets(
        policy.budgets,
        new FileBudgetLedger({
          dir: lockDir(deps.env, deps.platform, deps.homeDir),
          scope: server,
          clock: deps.clock,
          onCorrupt: (file) => deps.log.warn(`the shared call budget file ${file} was unreadable; counting starts afresh`),
        }),
      )
    : undefined;
  const rules = new ApprovalRules({ tools: policy.confirmTools, destructive: policy.confirmDestructive, writes: policy.confirmWrites });
  const approver = new Approver({
    timeoutMs: policy.confirmTimeoutMs,
    remember: policy.rememberApproval,
    clock: deps.clock,
    onEvent: (e) =>
      auditEvent({
        event: e.phase === 'asked' ? 'approval-asked' : 'approval-answered',
        question: e.questionId,
        tool: e.question.tool,
        rule: e.question.rule,
        argsSha256: e.question.argsSha256 ?? null,
        ...(e.answer ? { answer: e.answer, waitedMs: e.waitedMs } : {}),
      }),
  });
  const admission =
    budgets || rules.active
      ? new CallAdmission({
          budgets,
          approvals: rules.active ? { rules, approver, timeoutMs: policy.confirmTimeoutMs } : undefined,
          server,
          clock: deps.clock,
          user: ctx.user,
          redact: (t) => deps.log.redactor.redact(t),
        })
      : undefined;

  const runner = policy.alertCommand
    ? new AlertRunner({ argv: policy.alertCommand, spawn: ctx.spawn, env: alertEnv(deps.env), timeoutMs: ALERT_COMMAND_TIMEOUT_MS, warn: (m) => deps.log.warn(m) })
    : undefined;
  const launching = new Set<Promise<void>>();
  const monitor = policy.alertOn.length
    ? new AlertMonitor({
        thresholds: policy.alertOn,
        clock: deps.clock,
        fire: (t, counted) => {
          const time = new Date(deps.clock.now()).toISOString();
          deps.log.warn(`alert: ${counted.length} ${t.kind === 'refused' ? 'refused calls' : 'failed calls'} within ${t.text.split('/')[1]} (--alert-on ${t.text})`);
          const body = { kind: t.kind, threshold: t.text, count: counted.length, windowSeconds: Math.round(t.windowMs / 1000), tools: tally(counted.map((c) => c.tool)), reasons: tally(counted.map((c) => c.reason)) };
          auditEvent({ event: 'alert', ...body });
          if (!runner) return;
          const launch = subject().then((s) => {
            const event: AlertEvent = { event: 'alert', source: 'mcp-keybridge', ...body, server, subject: s ?? null, time, pid: process.pid };
            runner.run(event);
          });
          launching.add(launch);
          void launch.finally(() => launching.delete(launch));
        },
      })
    : undefined;

  const hook = new PolicyHook({
    policy: new ToolPolicy({ allow: policy.allowTools, deny: policy.denyTools, denyDestructive: policy.denyDestructive, readOnly: policy.readOnly }),
    admission,
    audit,
    server,
    clock: deps.clock,
    subject,
    onOutcome: monitor
      ? (tool, outcome, detail) => {
          const kind = alertKindOf(outcome);
          if (kind) monitor.note(kind, tool, detail ?? outcome);
        }
      : undefined,
  });
  return {
    hook,
    async close() {
      if (runner) {
        // An alert fired just before the end still runs (bounded), so a last burst is not lost.
        let timer: NodeJS.Timeout | undefined;
        const drained = Promise.allSettled([...launching]).then(() => runner.idle());
        await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, ALERT_DRAIN_MS)))]);
        clearTimeout(timer);
      }
      await audit?.close();
    },
  };
}
