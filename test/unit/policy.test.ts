import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { globToRegExp } from '../../src/policy/glob.js';
import { describeWait, parseBudget, parseCallsPerMinute, ruleApplies, type BudgetRule } from '../../src/policy/actionBudgets.js';
import { AlertMonitor, alertArgv, parseAlertOn, type AlertThreshold } from '../../src/policy/alerts.js';
import { ApprovalRules, elicitationSupport } from '../../src/policy/approvals.js';
import { summarizeArguments } from '../../src/policy/argumentSummary.js';
import { decide, type Counters } from '../../src/policy/budgetLedger.js';
import { describePolicy, mergePolicy } from '../../src/policy/effectivePolicy.js';
import { parsePolicyFile } from '../../src/policy/policyFile.js';
import { ToolPolicy } from '../../src/policy/toolPolicy.js';

const policy = (o: Partial<ConstructorParameters<typeof ToolPolicy>[0]>) =>
  new ToolPolicy({ allow: [], deny: [], denyDestructive: false, readOnly: false, ...o });

describe('tool policy', () => {
  it('globs match whole names, literally except * and ?', () => {
    expect(globToRegExp('fs.*').test('fs.read')).toBe(true);
    expect(globToRegExp('fs.*').test('fsxread')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a?c').test('abbc')).toBe(false);
  });
  it('deny wins over a broad allow', () => {
    const p = policy({ allow: ['*'], deny: ['delete_*'] });
    expect(p.check('delete_repo', undefined, true)).toEqual({ refusedBy: '--deny-tool delete_*' });
    expect(p.check('read_repo', undefined, true)).toBeUndefined();
  });
  it('with allow rules, an unmatched tool is refused', () => {
    expect(policy({ allow: ['echo'] }).check('add', undefined, true)?.refusedBy).toMatch(/--allow-tool/);
  });
  it('annotation rules fail closed for tools never described', () => {
    const p = policy({ denyDestructive: true });
    expect(p.check('x', undefined, false)?.refusedBy).toMatch(/has not described/);
    expect(p.check('x', { destructiveHint: true }, true)?.refusedBy).toMatch(/destructiveHint/);
    expect(p.check('x', { destructiveHint: false }, true)).toBeUndefined();
    const ro = policy({ readOnly: true });
    expect(ro.check('x', {}, true)?.refusedBy).toMatch(/--read-only/);
    expect(ro.check('x', { readOnlyHint: true }, true)).toBeUndefined();
  });
});

describe('budgets', () => {
  it('parses kinds, globs, windows and the per-minute shorthand', () => {
    expect(parseBudget('read=100/5m')).toMatchObject({ kind: 'read', limit: 100, windowMs: 300_000, text: 'read=100/5m', source: '--budget read=100/5m' });
    expect(parseBudget('delete_*=5/1h')).toMatchObject({ glob: 'delete_*', limit: 5, windowMs: 3_600_000 });
    expect(parseBudget('write=10/90s')).toMatchObject({ kind: 'write', windowMs: 90_000, text: 'write=10/90s' });
    expect(parseCallsPerMinute('10')).toMatchObject({ glob: '*', limit: 10, windowMs: 60_000, source: '--max-calls-per-minute 10' });
    expect(parseCallsPerMinute('search_*=2')).toMatchObject({ glob: 'search_*', limit: 2, source: '--max-calls-per-minute search_*=2' });
    for (const bad of ['read=0/5m', 'read=5', 'read=5/5d', 'read=5/0m', '=5/1m', 'write=1.5/1m']) expect(typeof parseBudget(bad)).toBe('string');
    expect(typeof parseCallsPerMinute('x=y')).toBe('string');
    expect(typeof parseCallsPerMinute('0')).toBe('string');
  });
  it('read counts read-only tools, write the rest, destructive the annotated or unknown ones', () => {
    const r = parseBudget('read=1/1m') as BudgetRule;
    const w = parseBudget('write=1/1m') as BudgetRule;
    const d = parseBudget('destructive=1/1m') as BudgetRule;
    expect(ruleApplies(r, 'x', { readOnlyHint: true }, true)).toBe(true);
    expect(ruleApplies(w, 'x', { readOnlyHint: true }, true)).toBe(false);
    expect(ruleApplies(r, 'x', undefined, false)).toBe(false);
    expect(ruleApplies(w, 'x', undefined, false)).toBe(true);
    expect(ruleApplies(d, 'x', { destructiveHint: true }, true)).toBe(true);
    expect(ruleApplies(d, 'x', {}, true)).toBe(false);
    expect(ruleApplies(d, 'x', undefined, false)).toBe(true);
  });
  it('grants while every window has room, refuses naming the one that frees up last, and recovers', () => {
    const counters: Counters = {};
    const short = { key: 'u write', limit: 2, windowMs: 1_000 };
    const long = { key: 'u echo', limit: 3, windowMs: 10_000 };
    expect(decide(counters, [short, long], 0)).toEqual({ granted: true });
    expect(decide(counters, [short, long], 100)).toEqual({ granted: true });
    expect(decide(counters, [short, long], 200)).toEqual({ granted: false, index: 0, retryAt: 1_000 });
    // a refused call is not counted anywhere
    expect(counters['u echo']!.stamps).toEqual([0, 100]);
    expect(decide(counters, [short, long], 1_001)).toEqual({ granted: true });
    expect(decide(counters, [short, long], 1_200)).toEqual({ granted: false, index: 1, retryAt: 10_000 });
    expect(decide(counters, [short], 1_200)).toEqual({ granted: true });
    // calls that left every window are dropped from the ledger
    expect(decide(counters, [], 60_000)).toEqual({ granted: true });
    expect(counters).toEqual({});
  });
  it('says how long to wait', () => {
    expect(describeWait(1)).toBe('1 s');
    expect(describeWait(61_000)).toBe('1 min 1 s');
    expect(describeWait(3_600_000)).toBe('1 h');
  });
});

describe('alerts', () => {
  it('parses thresholds', () => {
    expect(parseAlertOn('refused=20/5m,errors=50/5m')).toEqual([
      { kind: 'refused', count: 20, windowMs: 300_000, text: 'refused=20/5m' },
      { kind: 'errors', count: 50, windowMs: 300_000, text: 'errors=50/5m' },
    ]);
    expect(typeof parseAlertOn('denied=1/1m')).toBe('string');
    expect(typeof parseAlertOn('refused=1')).toBe('string');
  });
  it('fires once when the threshold is reached, not below it, and at most once per window', () => {
    let now = 0;
    const fired: { tool: string; reason: string }[][] = [];
    const m = new AlertMonitor({ thresholds: parseAlertOn('refused=3/1m') as AlertThreshold[], clock: { now: () => now }, fire: (_t, counted) => fired.push(counted) });
    m.note('refused', 'a', 'r');
    m.note('errors', 'a', 'e');
    m.note('refused', 'b', 'r');
    expect(fired).toHaveLength(0);
    now = 61_000; // the first two left the window
    m.note('refused', 'c', 'r');
    expect(fired).toHaveLength(0);
    m.note('refused', 'd', 'r');
    m.note('refused', 'e', 'r');
    expect(fired.map((f) => f.map((c) => c.tool))).toEqual([['c', 'd', 'e']]);
    for (let i = 0; i < 10; i++) m.note('refused', 'f', 'r');
    expect(fired).toHaveLength(1);
    now = 130_000;
    for (let i = 0; i < 3; i++) m.note('refused', 'g', 'r');
    expect(fired).toHaveLength(2);
  });
  it('splits the command like $BROWSER, without a shell', () => {
    expect(alertArgv('notify-send  mcp-keybridge "$(id)"')).toEqual(['notify-send', 'mcp-keybridge', '"$(id)"']);
    expect(alertArgv('  ')).toBeUndefined();
  });
});

describe('approvals', () => {
  it('asks by glob, by annotation, and for tools never described under annotation rules', () => {
    const r = new ApprovalRules({ tools: ['delete_*'], destructive: true, writes: false });
    expect(r.ruleFor('delete_branch', { readOnlyHint: true }, true)).toBe('--confirm-tool delete_*');
    expect(r.ruleFor('drop', { destructiveHint: true }, true)).toMatch(/--confirm-destructive/);
    expect(r.ruleFor('echo', { destructiveHint: false }, true)).toBeUndefined();
    expect(r.ruleFor('echo', undefined, false)).toMatch(/has not described/);
    const w = new ApprovalRules({ tools: [], destructive: false, writes: true });
    expect(w.ruleFor('echo', {}, true)).toMatch(/--confirm-writes/);
    expect(w.ruleFor('read', { readOnlyHint: true }, true)).toBeUndefined();
  });
  it('reads the elicitation capability of both spec versions', () => {
    expect(elicitationSupport({})).toBe('none');
    expect(elicitationSupport({ elicitation: {} })).toBe('form-legacy');
    expect(elicitationSupport({ elicitation: { form: {} } })).toBe('form');
    expect(elicitationSupport({ elicitation: { url: {} } })).toBe('none');
    expect(elicitationSupport({ elicitation: true })).toBe('none');
  });
  it('summarizes arguments short and sanitized, secrets hidden, values never nested', () => {
    const redact = (t: string) => t.replace(/eyJ[\w.-]+/g, '[REDACTED_JWT]');
    expect(summarizeArguments({ branch: 'main', force: true, n: 3 }, redact)).toBe('branch: "main", force: true, n: 3');
    expect(summarizeArguments({ password: 'hunter22', api_key: 'k', files: ['a', 'b'], opts: { a: 1 } }, redact)).toBe('password: (hidden), api_key: (hidden), files: [2 items], opts: {1 field}');
    expect(summarizeArguments({ t: 'eyJabc.def.ghi' }, redact)).toBe('t: "[REDACTED_JWT]"');
    const evil = summarizeArguments({ ['k\u202e']: 'a\nb\u001b[31m' + 'x'.repeat(200) }, redact);
    expect(evil).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(evil.length).toBeLessThan(120);
    expect(summarizeArguments({}, redact)).toBe('(none)');
    const many = summarizeArguments(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])), redact);
    expect(many).toMatch(/and 12 more$/);
  });
});

describe('policy file', () => {
  const file = '/etc/mcp/policy.json';
  it('reads JSON with comments and trailing commas into the spec, paths relative to the file', () => {
    const spec = parsePolicyFile(
      `// the security team's policy
      {
        "version": 1,
        /* which tools */
        "tools": { "deny": ["admin_*"], "denyDestructive": false, },
        "confirm": { "tools": ["delete_*"], "destructive": true, "timeoutSeconds": 60, "rememberApproval": "session" },
        "budgets": { "read": "100/5m", "write": "10/5m", "delete_*": "5/1h" },
        "alerts": { "command": ["notify-send", "mcp-keybridge"], "refused": "20/5m" },
        "auditLog": "audit.jsonl"
      }`,
      file,
    );
    expect(spec).toMatchObject({ denyTools: ['admin_*'], confirmTools: ['delete_*'], confirmDestructive: true, confirmTimeoutMs: 60_000, rememberApproval: 'session', alertCommand: ['notify-send', 'mcp-keybridge'], auditLog: '/etc/mcp/audit.jsonl' });
    expect(spec.budgets!.map((b) => b.source)).toEqual(['read=100/5m (/etc/mcp/policy.json line 7)', 'write=10/5m (/etc/mcp/policy.json line 7)', 'delete_*=5/1h (/etc/mcp/policy.json line 7)']);
    expect(spec.alertOn).toEqual([{ kind: 'refused', count: 20, windowMs: 300_000, text: 'refused=20/5m' }]);
  });
  it('names the line of every mistake', () => {
    const err = (text: string) => {
      try {
        parsePolicyFile(text, file);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err('{\n "version": 1,\n "tool": {}\n}')).toBe('/etc/mcp/policy.json line 3: unknown key "tool" (known: version, tools, confirm, budgets, alerts, auditLog)');
    expect(err('{\n "version": 1,\n "budgets": {\n  "write": "10 per 5m"\n }\n}')).toMatch(/^\/etc\/mcp\/policy.json line 4: "budgets.write": expected N\/WINDOW/);
    expect(err('{\n "version": 1,\n "tools": { "deny": "x" }\n}')).toMatch(/line 3: "tools.deny" must be a list/);
    expect(err('{\n "version": 1,\n "version": 1\n}')).toMatch(/line 3: the key "version" appears twice/);
    expect(err('{\n "version": 1\n "tools": {}\n}')).toMatch(/line 3: expected , or }/);
    expect(err('{ "tools": {} }')).toMatch(/line 1: missing "version": 1/);
    expect(err('{ "version": 2 }')).toMatch(/"version" must be 1/);
    expect(err('{ "version": 1, "confirm": { "timeoutSeconds": -1 } }')).toMatch(/timeoutSeconds/);
    expect(err('{ "version": 1 /* open')).toMatch(/never closed/);
  });
  it("the README's example is a valid policy file", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Policy file'));
    const example = /```jsonc\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toBeDefined();
    const spec = parsePolicyFile(example!, '/etc/mcp/company-mcp-policy.json');
    expect(spec.budgets!.map((r) => r.text)).toEqual(['read=100/5m', 'list_*=50/5m', 'write=10/5m', 'delete_*=5/1h']);
    expect(spec).toMatchObject({ confirmDestructive: true, rememberApproval: 'never', auditLog: '/etc/mcp/mcp-audit.jsonl' });
  });
  it('flags add to the file: lists and budgets add up, switched-on rules stay on, single values from flags win', () => {
    const fileSpec = parsePolicyFile('{ "version": 1, "tools": { "deny": ["a"] }, "confirm": { "destructive": true, "timeoutSeconds": 60 }, "budgets": { "write": "10/5m" } }', file);
    const p = mergePolicy(fileSpec, { denyTools: ['b', 'a'], confirmTimeoutMs: 30_000, budgets: [parseBudget('read=5/1m') as BudgetRule] }, [file, 'flags']);
    expect(p.denyTools).toEqual(['a', 'b']);
    expect(p.confirmDestructive).toBe(true);
    expect(p.confirmTimeoutMs).toBe(30_000);
    expect(p.budgets.map((b) => b.text)).toEqual(['write=10/5m', 'read=5/1m']);
    expect(mergePolicy(undefined, {}, []).confirmTimeoutMs).toBe(120_000);
    expect(describePolicy(p)).toMatch(/budgets \(per user and server, shared by this machine's bridges\): write 10 per 5m, read 5 per 1m/);
  });
});
