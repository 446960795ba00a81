import path from 'node:path';
import { budgetRule, type BudgetRule } from './actionBudgets.js';
import { ALERT_KINDS, alertArgv, parseAlertOn, type AlertThreshold } from './alerts.js';
import { JsonSyntaxError, parseJsonWithComments, type JsonNode } from './jsonWithComments.js';

/** One source's part of the policy (the file, or the flags); merged by effectivePolicy.ts. */
export interface PolicySpec {
  allowTools?: string[];
  denyTools?: string[];
  denyDestructive?: boolean;
  readOnly?: boolean;
  confirmTools?: string[];
  confirmDestructive?: boolean;
  confirmWrites?: boolean;
  confirmTimeoutMs?: number;
  rememberApproval?: 'never' | 'session';
  budgets?: BudgetRule[];
  alertCommand?: string[];
  alertOn?: AlertThreshold[];
  auditLog?: string;
}

/** A policy file that cannot be used: says which file, which line and what is wrong. */
export class PolicyFileError extends Error {}

type ObjectNode = Extract<JsonNode, { type: 'object' }>;

/**
 * Read a policy file's text (JSON with comments; schema in the README, "Policy file"). Every
 * unknown key and wrong type is an error naming its line: a policy that silently ignored a typo
 * would not be the policy its authors shipped. Relative paths are relative to the file.
 */
export function parsePolicyFile(text: string, file: string): PolicySpec {
  const where = (line: number): string => `${file} line ${line}`;
  let root: JsonNode;
  try {
    root = parseJsonWithComments(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new PolicyFileError(`${where(err.line)}: ${err.message}`);
    throw err;
  }
  const fail = (line: number, message: string): never => {
    throw new PolicyFileError(`${where(line)}: ${message}`);
  };
  const top = object(root, 'the policy file', fail);
  const spec: PolicySpec = {};
  const version = top.members.find((m) => m.key === 'version');
  if (!version) fail(root.line, 'missing "version": 1');
  else if (version.value.type !== 'number' || version.value.value !== 1) fail(version.line, '"version" must be 1 (the only version of this format)');

  for (const m of top.members) {
    switch (m.key) {
      case 'version':
      case '$schema':
        break;
      case 'tools':
        for (const t of object(m.value, '"tools"', fail).members) {
          if (t.key === 'allow') spec.allowTools = strings(t.value, 'tools.allow', fail);
          else if (t.key === 'deny') spec.denyTools = strings(t.value, 'tools.deny', fail);
          else if (t.key === 'denyDestructive') spec.denyDestructive = boolean(t.value, 'tools.denyDestructive', fail);
          else if (t.key === 'readOnly') spec.readOnly = boolean(t.value, 'tools.readOnly', fail);
          else fail(t.line, `unknown key "tools.${t.key}" (known: allow, deny, denyDestructive, readOnly)`);
        }
        break;
      case 'confirm':
        for (const c of object(m.value, '"confirm"', fail).members) {
          if (c.key === 'tools') spec.confirmTools = strings(c.value, 'confirm.tools', fail);
          else if (c.key === 'destructive') spec.confirmDestructive = boolean(c.value, 'confirm.destructive', fail);
          else if (c.key === 'writes') spec.confirmWrites = boolean(c.value, 'confirm.writes', fail);
          else if (c.key === 'timeoutSeconds') {
            if (c.value.type !== 'number' || !(c.value.value > 0) || c.value.value > 3600) fail(c.line, '"confirm.timeoutSeconds" must be a number of seconds from 1 to 3600');
            spec.confirmTimeoutMs = Math.round((c.value as { value: number }).value * 1000);
          } else if (c.key === 'rememberApproval') {
            const v = c.value.type === 'string' ? c.value.value : undefined;
            if (v !== 'session' && v !== 'never') fail(c.line, '"confirm.rememberApproval" must be "session" or "never"');
            spec.rememberApproval = v as 'session' | 'never';
          } else fail(c.line, `unknown key "confirm.${c.key}" (known: tools, destructive, writes, timeoutSeconds, rememberApproval)`);
        }
        break;
      case 'budgets':
        spec.budgets = object(m.value, '"budgets"', fail).members.map((b) => {
          if (b.value.type !== 'string') fail(b.line, `"budgets.${b.key}" must be a string N/WINDOW such as "10/5m"`);
          const rule = budgetRule(b.key, (b.value as { value: string }).value, '');
          if (typeof rule === 'string') fail(b.line, `"budgets.${b.key}": ${rule}`);
          const r = rule as BudgetRule;
          return { ...r, source: `${r.text} (${where(b.line)})` };
        });
        break;
      case 'alerts':
        for (const a of object(m.value, '"alerts"', fail).members) {
          if (a.key === 'command') {
            const argv = a.value.type === 'string' ? alertArgv(a.value.value) : a.value.type === 'array' ? alertArgv(strings(a.value, 'alerts.command', fail)) : undefined;
            if (!argv) fail(a.line, '"alerts.command" must be a command: a list of arguments ["notify-send", "mcp-keybridge"] or one string split on spaces');
            spec.alertCommand = argv;
          } else if ((ALERT_KINDS as readonly string[]).includes(a.key)) {
            if (a.value.type !== 'string') fail(a.line, `"alerts.${a.key}" must be a string N/WINDOW such as "20/5m"`);
            const parsed = parseAlertOn(`${a.key}=${(a.value as { value: string }).value}`);
            if (typeof parsed === 'string') fail(a.line, parsed.replace(/^--alert-on /, `"alerts.${a.key}": `));
            spec.alertOn = [...(spec.alertOn ?? []), ...(parsed as AlertThreshold[])];
          } else fail(a.line, `unknown key "alerts.${a.key}" (known: command, ${ALERT_KINDS.join(', ')})`);
        }
        break;
      case 'auditLog':
        if (m.value.type !== 'string' || m.value.value === '') fail(m.line, '"auditLog" must be a file path');
        spec.auditLog = path.resolve(path.dirname(file), (m.value as { value: string }).value);
        break;
      default:
        fail(m.line, `unknown key "${m.key}" (known: version, tools, confirm, budgets, alerts, auditLog)`);
    }
  }
  return spec;
}

type Fail = (line: number, message: string) => never;

function object(node: JsonNode, what: string, fail: Fail): ObjectNode {
  if (node.type !== 'object') fail(node.line, `${what} must be an object { … }`);
  return node as ObjectNode;
}

function strings(node: JsonNode, what: string, fail: Fail): string[] {
  if (node.type !== 'array') fail(node.line, `"${what}" must be a list of strings`);
  return (node as Extract<JsonNode, { type: 'array' }>).items.map((item) => {
    if (item.type !== 'string' || item.value === '') fail(item.line, `"${what}" must hold non-empty strings`);
    return (item as { value: string }).value;
  });
}

function boolean(node: JsonNode, what: string, fail: Fail): boolean {
  if (node.type !== 'boolean') fail(node.line, `"${what}" must be true or false`);
  return (node as { value: boolean }).value;
}
