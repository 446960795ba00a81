#!/usr/bin/env node
/**
 * npm run conformance: every client scenario of the official MCP conformance suites, run against
 * the built bridge (scripts/conformance/client.ts is the `<cmd>`), one scenario per process with
 * its own home and token store.
 *
 *   node dist/scripts/conformance/run.js [--suite 0.1.16|0.2.0-alpha.12] [--scenario SUBSTRING]…
 *        [--concurrency N] [--out DIR] [--timeout SECONDS]
 *
 * A scenario passes when the suite's CLI reports no FAILURE and no WARNING check and the client
 * completed (its own exit status). scripts/conformance/expected.json names the scenarios that are
 * known not to pass yet, each with its reason; any other scenario that does not pass fails the run
 * (exit 1), so a regression fails CI. Each scenario's checks.json, stdout and stderr stay in --out.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { judge, parseScenarioList, type ScenarioOutcome } from './outcome.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');

interface Suite {
  version: string;
  cli: string;
}

const SUITES: Suite[] = [
  { version: '0.1.16', cli: path.join(root, 'node_modules/@modelcontextprotocol/conformance/dist/index.js') },
  { version: '0.2.0-alpha.12', cli: path.join(root, 'node_modules/conformance-next/dist/index.js') },
];

interface Options {
  suites: string[];
  scenarios: string[];
  concurrency: number;
  out: string;
  timeoutMs: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { suites: [], scenarios: [], concurrency: 2, out: path.join(root, '.conformance-results'), timeoutMs: 180_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--suite' && v) (o.suites.push(v), i++);
    else if (a === '--scenario' && v) (o.scenarios.push(v), i++);
    else if (a === '--concurrency' && v) (o.concurrency = Math.max(1, Number(v) || 1), i++);
    else if (a === '--out' && v) (o.out = path.resolve(v), i++);
    else if (a === '--timeout' && v) (o.timeoutMs = Math.max(10, Number(v) || 180) * 1000, i++);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** The conformance CLI needs Node >= 22: the devDependency `node@22` provides it. */
function node22(): string {
  const bin = path.join(root, 'node_modules/node/bin/node');
  if (existsSync(bin)) return bin;
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return process.execPath;
  throw new Error('the conformance CLI needs Node >= 22; run npm ci (the node@22 devDependency provides it)');
}

function runProcess(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, timedOut });
    });
  });
}

async function listScenarios(node: string, suite: Suite): Promise<string[]> {
  const r = await runProcess(node, [suite.cli, 'list', '--client'], 60_000);
  return parseScenarioList(r.out);
}

async function runScenario(node: string, suite: Suite, scenario: string, opts: Options): Promise<ScenarioOutcome> {
  const dir = path.join(opts.out, suite.version, scenario.replace(/[^A-Za-z0-9._-]/g, '_'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const command = `${process.execPath} ${path.join(root, 'dist/scripts/conformance/client.js')}`;
  // The suite's own client timeout is generous: the machine may be loaded, and a slow machine is
  // not a failed scenario. Our own deadline is a backstop above it.
  const args = [suite.cli, 'client', '--command', command, '--scenario', scenario, '--timeout', String(opts.timeoutMs - 20_000), '-o', dir];
  const r = await runProcess(node, args, opts.timeoutMs);
  writeFileSync(path.join(dir, 'runner-output.txt'), r.out);
  if (r.code !== 0) {
    // A failed CI run shows why without its results directory: the bridge's own lines and the checks.
    const lines = r.out.split('\n').filter((l) => /mcp-keybridge|conformance client|FAILURE|WARNING/.test(l));
    process.stderr.write(`--- ${suite.version} ${scenario} (exit ${r.code})\n${lines.slice(-30).join('\n')}\n---\n`);
  }
  let checks: unknown[] = [];
  const found = findFile(dir, 'checks.json');
  if (found) checks = JSON.parse(readFileSync(found, 'utf8')) as unknown[];
  return judge(scenario, r.code, r.timedOut, checks, r.out);
}

function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return p;
    if (entry.isDirectory()) {
      const inner = findFile(p, name);
      if (inner) return inner;
    }
  }
  return undefined;
}

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const expected = JSON.parse(readFileSync(path.join(root, 'scripts/conformance/expected.json'), 'utf8')) as Record<string, Record<string, string>>;
  const node = node22();
  let regressions = 0;
  const summary: string[] = [];
  for (const suite of SUITES) {
    if (opts.suites.length && !opts.suites.includes(suite.version)) continue;
    const known = expected[suite.version] ?? {};
    let scenarios = await listScenarios(node, suite);
    if (scenarios.length === 0) throw new Error(`conformance ${suite.version}: no client scenarios listed`);
    if (opts.scenarios.length) scenarios = scenarios.filter((s) => opts.scenarios.some((f) => s.includes(f)));
    process.stderr.write(`conformance ${suite.version}: ${scenarios.length} client scenarios\n`);
    const outcomes = await pool(scenarios, opts.concurrency, async (s) => {
      const o = await runScenario(node, suite, s, opts);
      process.stderr.write(`  ${o.passed ? 'PASS' : 'FAIL'} ${s}${o.passed ? '' : ` — ${o.reason}`}\n`);
      return o;
    });
    const lines = [`\n## @modelcontextprotocol/conformance ${suite.version}\n`, '| scenario | result | note |', '| --- | --- | --- |'];
    let passed = 0;
    for (const o of outcomes) {
      const why = known[o.scenario];
      if (o.passed) passed++;
      else if (!why) regressions++;
      const result = o.passed ? 'PASS' : why ? 'not yet' : '**FAIL**';
      const note = o.passed ? (why ? `passes now; remove from expected.json (${why})` : '') : why ?? o.reason;
      lines.push(`| ${o.scenario} | ${result} | ${note.replace(/\|/g, '\\|').slice(0, 300)} |`);
    }
    lines.push('', `${suite.version}: ${passed}/${outcomes.length} pass`);
    summary.push(...lines);
  }
  process.stdout.write(summary.join('\n') + '\n');
  process.stdout.write(regressions ? `\nconformance: ${regressions} scenario(s) failed that are expected to pass (results in ${opts.out})\n` : '\nconformance: every scenario expected to pass passed\n');
  return regressions ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`conformance: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
