/**
 * `npm run bench`: the bridge against the floor (an SDK client straight to the gateway), side by side
 * in one run against one lab gateway on 127.0.0.1. Prints a table (figure | direct | bridge | ratio |
 * target | result), the repetitions, machine facts, and a JSON of every raw number.
 * Exit code: 0 when the run completed, whatever the targets say (it is a report); 1 when something
 * broke (an answer not intact, the bridge crashed, a phase could not run); 2 for bad options.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Deadline } from './bench/deadline.js';
import { startGatewayProcess, type GatewayProcess } from './bench/gatewayProcess.js';
import { OptionsError, parseOptions, USAGE, type BenchOptions } from './bench/options.js';
import { emptyResults, runBigRep, runMainRep, runRssRep, warmStart, type PhaseContext, type RawResults } from './bench/phases.js';
import { buildFigures, figuresForJson, renderTable, type Figure } from './bench/report.js';
import { runTokenPhase, type TokenResults } from './bench/tokenPhase.js';
import { runAuthStartPhase, type AuthStartResults } from './bench/authStartPhase.js';

const BIN = fileURLToPath(new URL('../../bin/mcp-keybridge.js', import.meta.url));
/** Past the deadline, cleanup gets this long before the watchdog ends the process. */
const WATCHDOG_GRACE_MS = 30_000;

interface RunOutcome {
  raw: RawResults;
  token?: TokenResults;
  authStart?: AuthStartResults;
  failures: string[];
  truncated: boolean;
}

function machineFacts(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

async function runAll(opts: BenchOptions, progress: (m: string) => void): Promise<RunOutcome> {
  const deadline = new Deadline(opts.deadlineMs);
  const failures: string[] = [];
  const raw = emptyResults();
  let token: TokenResults | undefined;
  let authStart: AuthStartResults | undefined;
  let gateway: GatewayProcess | undefined;
  try {
    gateway = await startGatewayProcess({ auth: { mode: 'none' }, startTimeoutMs: deadline.cap(15_000) });
    progress(`lab gateway at ${gateway.url} (pid ${gateway.pid})`);
    const ctx: PhaseContext = {
      opts,
      deadline,
      gateway,
      launch: { binPath: BIN, nodeArgs: opts.bridgeNodeArgs, bridgeArgs: opts.bridgeArgs, env: {} },
      directHeaders: {},
      progress,
      failures,
    };
    const { phases } = opts;
    if (phases.has('start') || phases.has('echo') || phases.has('blob')) {
      await warmStart(ctx);
      for (let rep = 0; rep < opts.reps && !deadline.expired; rep++) {
        progress(`start/echo/blob repetition ${rep + 1}/${opts.reps}`);
        await runMainRep(ctx, rep, raw);
      }
    }
    if (phases.has('authstart') && !deadline.expired) {
      progress('signed-in start: oauth lab, one sign-in per token store');
      authStart = await runAuthStartPhase(ctx);
    }
    if (phases.has('rss')) {
      for (let rep = 0; rep < opts.reps && !deadline.expired; rep++) {
        progress(`RSS repetition ${rep + 1}/${opts.reps}`);
        await runRssRep(ctx, rep, raw);
      }
    }
    if (phases.has('big')) {
      for (let rep = 0; rep < opts.reps && !deadline.expired; rep++) {
        progress(`10 MiB repetition ${rep + 1}/${opts.reps}`);
        await runBigRep(ctx, rep, raw);
      }
    }
    if (phases.has('token') && !deadline.expired) {
      progress('static-token variant');
      token = await runTokenPhase(ctx);
      if (!token.refusedWithoutToken) failures.push('the static-token gateway accepted a client without the token');
    }
  } catch (err) {
    failures.push(`the run broke: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await gateway?.close().catch(() => undefined);
  }
  const big = raw.big;
  if (big.bridgeIntact.includes(false) || big.directIntact.includes(false)) failures.push('a 10 MiB result did not arrive intact');
  return { raw, token, authStart, failures, truncated: deadline.expired };
}

/** Figures a complete run must have produced for the phases asked for. */
function missingFigures(opts: BenchOptions, figs: Figure[]): string[] {
  const expected: Record<string, string[]> = {
    start: ['start_ms'],
    echo: ['echo_p50_ms', 'echo_seq_cps', 'echo_conc_cps'],
    blob: ['blob_p50_ms', 'blob_seq_cps', 'blob_conc_cps'],
    rss: ['rss_idle_mib', 'rss_burst_mib'],
    big: ['big_peak_mib'],
    token: ['token_echo_p50_ms'],
    authstart: ['auth_start_file_ms'],
  };
  const missing: string[] = [];
  for (const phase of opts.phases) {
    for (const key of expected[phase] ?? []) {
      const f = figs.find((x) => x.key === key);
      if (!f || f.bridgeReps.length < opts.reps) missing.push(`${key} (${f?.bridgeReps.length ?? 0}/${opts.reps} repetitions)`);
    }
  }
  return missing;
}

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const watchdog = setTimeout(() => {
    process.stderr.write('bench: the watchdog ended the run (cleanup did not finish after the deadline)\n');
    process.exit(1);
  }, opts.deadlineMs + WATCHDOG_GRACE_MS);
  watchdog.unref();

  const human = opts.json ? process.stderr : process.stdout;
  const started = performance.now();
  const progress = (m: string): void => void process.stderr.write(`bench [${((performance.now() - started) / 1000).toFixed(1)} s]: ${m}\n`);
  const machine = machineFacts();
  const outcome = await runAll(opts, progress);
  const figs = buildFigures(outcome.raw, opts.counts, outcome.token, outcome.authStart);
  const missing = missingFigures(opts, figs);
  if (missing.length > 0) outcome.failures.push(`incomplete figures${outcome.truncated ? ' (global deadline reached)' : ''}: ${missing.join(', ')}`);

  human.write(`\nmcp-keybridge bench — ${opts.quick ? 'QUICK (counts too small to judge targets)' : 'full'} run, ${opts.reps} repetitions\n`);
  human.write(`machine: node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, ${machine.platform}, load ${String(machine.loadAverage)}\n`);
  if (opts.bridgeNodeArgs.length > 0) human.write(`bridge node flags: ${opts.bridgeNodeArgs.join(' ')}\n`);
  if (opts.bridgeArgs.length > 0) human.write(`extra bridge flags: ${opts.bridgeArgs.join(' ')}\n`);
  human.write(`keychain session bus: ${process.env.DBUS_SESSION_BUS_ADDRESS ? 'yes' : 'none (run under scripts/with-keyring.sh for one)'}\n`);
  human.write(`${renderTable(figs)}\n`);
  for (const f of outcome.failures) human.write(`BROKEN: ${f}\n`);

  machine.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const report = {
    completed: outcome.failures.length === 0,
    truncated: outcome.truncated,
    elapsedS: Math.round((performance.now() - started) / 100) / 10,
    machine,
    options: { quick: opts.quick, reps: opts.reps, phases: [...opts.phases], deadlineMs: opts.deadlineMs, counts: opts.counts, bridgeNodeArgs: opts.bridgeNodeArgs, bridgeArgs: opts.bridgeArgs, sessionBus: Boolean(process.env.DBUS_SESSION_BUS_ADDRESS) },
    figures: figuresForJson(figs),
    blob10: {
      intact: outcome.raw.big.bridgeIntact.length > 0 && outcome.raw.big.bridgeIntact.every(Boolean) && outcome.raw.big.directIntact.every(Boolean),
      bridgeIntact: outcome.raw.big.bridgeIntact,
      directIntact: outcome.raw.big.directIntact,
    },
    raw: outcome.raw,
    staticToken: outcome.token,
    authStart: outcome.authStart,
    failures: outcome.failures,
  };
  process.stdout.write(`${opts.json ? '' : '\nJSON:\n'}${JSON.stringify(report)}\n`);
  process.exitCode = outcome.failures.length === 0 ? 0 : 1;
  clearTimeout(watchdog);
}

await main();
