/**
 * `npm run bench`: the bridge against the floor (an SDK client straight to the gateway), side by side
 * in one run, against each of three gateways on 127.0.0.1: the lab gateway, a gateway built with the
 * SDK's v2 server, and the SDK's own example server (see gatewayProcess.ts). Prints one table per
 * gateway (figure | direct | bridge | ratio | target | result), the figures measured once (signed-in
 * start, static token, the policy hook), a summary across gateways, the repetitions, machine facts
 * and load, and a JSON of every raw number.
 * Exit code: 0 when the run completed, whatever the targets say (it is a report); 1 when something
 * broke (an answer not intact, the bridge crashed, a phase could not run, figures missing); 2 for bad options.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Deadline } from './bench/deadline.js';
import { startGatewayProcess, type GatewayKind, type GatewayProcess } from './bench/gatewayProcess.js';
import { OptionsError, parseOptions, USAGE, type BenchOptions } from './bench/options.js';
import { emptyResults, runBigRep, runMainRep, runRssRep, warmStart, type PhaseContext, type RawResults } from './bench/phases.js';
import { buildFigures, buildSharedFigures, figuresForJson, renderSummary, renderTable, type Figure } from './bench/report.js';
import { runTokenPhase, type TokenResults } from './bench/tokenPhase.js';
import { runAuthStartPhase, type AuthStartResults } from './bench/authStartPhase.js';
import { runHookPhase, type HookResults } from './bench/hookPhase.js';
import { runDpopPhase, type DpopResults } from './bench/dpopPhase.js';

const BIN = fileURLToPath(new URL('../../bin/mcp-keybridge.js', import.meta.url));
/** Past the deadline, cleanup gets this long before the watchdog ends the process. */
const WATCHDOG_GRACE_MS = 60_000;
const GATEWAY_START_TIMEOUT_MS = 60_000;

const GATEWAY_TITLES: Record<GatewayKind, string> = {
  lab: 'lab gateway (SDK v1 McpServer, our node:http wiring, SSE answers)',
  v2: 'SDK v2 server (@modelcontextprotocol/server createMcpHandler), SDK 1.x client: direct on its stateless 2025 leg; the bridge speaks 2026-07-28 to it and translates',
  'v2-2026': 'SDK v2 server, SDK v2 client (@modelcontextprotocol/client) pinned to 2026-07-28: direct and through the bridge, both on the modern leg',
  example: "SDK example server simpleStreamableHttp (Express, sessions, event store; greet = echo, + blob)",
};

interface GatewayOutcome {
  kind: GatewayKind;
  raw: RawResults;
}

interface RunOutcome {
  gateways: GatewayOutcome[];
  token?: TokenResults;
  authStart?: AuthStartResults;
  hook?: HookResults;
  dpop?: DpopResults;
  failures: string[];
  truncated: boolean;
}

function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

function machineFacts(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    loadAverage: loadAverage(),
  };
}

/** The per-gateway phases (start, echo, 1 MiB, RSS, 10 MiB) against one gateway of its own. */
async function runGateway(opts: BenchOptions, base: Omit<PhaseContext, 'gateway'>, kind: GatewayKind, progress: (m: string) => void): Promise<GatewayOutcome> {
  const raw = emptyResults();
  const { phases, reps } = opts;
  const wanted = ['start', 'echo', 'blob', 'rss', 'big'].some((p) => phases.has(p as never));
  if (!wanted || base.deadline.expired) return { kind, raw };
  const gateway = await startGatewayProcess({ kind, startTimeoutMs: GATEWAY_START_TIMEOUT_MS });
  progress(`${kind} gateway at ${gateway.url} (pid ${gateway.pid}); load ${loadAverage().join(' ')}`);
  const ctx: PhaseContext = { ...base, gateway };
  try {
    if (phases.has('start') || phases.has('echo') || phases.has('blob')) {
      await warmStart(ctx);
      for (let rep = 0; rep < reps && !ctx.deadline.expired; rep++) {
        progress(`${kind}: start/echo/blob repetition ${rep + 1}/${reps}`);
        await runMainRep(ctx, rep, raw);
      }
    }
    if (phases.has('rss')) {
      for (let rep = 0; rep < reps && !ctx.deadline.expired; rep++) {
        progress(`${kind}: RSS repetition ${rep + 1}/${reps}`);
        await runRssRep(ctx, rep, raw);
      }
    }
    if (phases.has('big')) {
      for (let rep = 0; rep < reps && !ctx.deadline.expired; rep++) {
        progress(`${kind}: 10 MiB repetition ${rep + 1}/${reps}`);
        await runBigRep(ctx, rep, raw);
      }
    }
  } finally {
    await gateway.close().catch(() => undefined);
  }
  const big = raw.big;
  if (big.bridgeIntact.includes(false) || big.directIntact.includes(false)) base.failures.push(`${kind}: a 10 MiB result did not arrive intact`);
  return { kind, raw };
}

async function runAll(opts: BenchOptions, progress: (m: string) => void): Promise<RunOutcome> {
  const deadline = new Deadline(opts.deadlineMs);
  const failures: string[] = [];
  const out: RunOutcome = { gateways: [], failures, truncated: false };
  const base: Omit<PhaseContext, 'gateway'> = {
    opts,
    deadline,
    launch: { binPath: BIN, nodeArgs: opts.bridgeNodeArgs, bridgeArgs: opts.bridgeArgs, env: {} },
    directHeaders: {},
    progress,
    failures,
  };
  try {
    for (const kind of opts.gateways) {
      try {
        out.gateways.push(await runGateway(opts, base, kind, progress));
      } catch (err) {
        failures.push(`the ${kind} gateway run broke: ${(err as Error).stack ?? String(err)}`);
      }
    }
    const { phases } = opts;
    if ((phases.has('authstart') || phases.has('token') || phases.has('hook') || phases.has('dpop')) && !deadline.expired) {
      // The shared phases start gateways of their own where they need auth; the hook runs on the lab.
      if (phases.has('authstart')) {
        progress('signed-in start: oauth lab, one sign-in per token store');
        out.authStart = await runAuthStartPhase(base);
      }
      if (phases.has('token') && !deadline.expired) {
        progress('static-token variant');
        out.token = await runTokenPhase(base);
        if (!out.token.refusedWithoutToken) failures.push('the static-token gateway accepted a client without the token');
      }
      if (phases.has('hook') && !deadline.expired) {
        const gateway = await startGatewayProcess({ kind: 'lab', startTimeoutMs: GATEWAY_START_TIMEOUT_MS });
        progress(`hook variant on the lab gateway: ${opts.hookArgs.join(' ')}`);
        try {
          out.hook = await runHookPhase({ ...base, gateway });
        } finally {
          await gateway.close().catch(() => undefined);
        }
      }
      if (phases.has('dpop') && !deadline.expired) {
        progress('DPoP vs Bearer: the lab in its dpop mode, one sign-in each');
        out.dpop = await runDpopPhase(base);
      }
    }
  } catch (err) {
    failures.push(`the run broke: ${(err as Error).stack ?? String(err)}`);
  }
  out.truncated = deadline.expired;
  return out;
}

/** Figures a complete run must have produced for the phases asked for. */
function missingFigures(opts: BenchOptions, perGateway: { kind: string; figs: Figure[] }[], shared: Figure[]): string[] {
  const expected: Record<string, string[]> = {
    start: ['start_ms'],
    echo: ['echo_p50_ms', 'echo_seq_cps', 'echo_conc_cps'],
    blob: ['blob_p50_ms', 'blob_seq_cps', 'blob_conc_cps'],
    rss: ['rss_idle_mib', 'rss_burst_mib'],
    big: ['big_peak_mib'],
  };
  const expectedShared: Record<string, string[]> = { token: ['token_echo_p50_ms'], authstart: ['auth_start_file_ms'], hook: ['hook_echo_p50_ms', 'hook_relay_us'], dpop: ['dpop_echo_p50_ms', 'dpop_headers_us', 'dpop_outside_ms'] };
  const missing: string[] = [];
  const check = (where: string, figs: Figure[], keys: string[]): void => {
    for (const key of keys) {
      const f = figs.find((x) => x.key === key);
      if (!f || f.bridgeReps.length < opts.reps) missing.push(`${where}${key} (${f?.bridgeReps.length ?? 0}/${opts.reps} repetitions)`);
    }
  };
  for (const phase of opts.phases) {
    for (const kind of opts.gateways) {
      const g = perGateway.find((x) => x.kind === kind);
      check(`${kind}.`, g?.figs ?? [], expected[phase] ?? []);
    }
    check('', shared, expectedShared[phase] ?? []);
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
  // Only with a deadline: without one each wait is bounded by its own timeout.
  const watchdog = Number.isFinite(opts.deadlineMs)
    ? setTimeout(() => {
        process.stderr.write('bench: the watchdog ended the run (cleanup did not finish after the deadline)\n');
        process.exit(1);
      }, opts.deadlineMs + WATCHDOG_GRACE_MS)
    : undefined;
  watchdog?.unref();

  const human = opts.json ? process.stderr : process.stdout;
  const started = performance.now();
  const progress = (m: string): void => void process.stderr.write(`bench [${((performance.now() - started) / 1000).toFixed(1)} s]: ${m}\n`);
  const machine = machineFacts();
  const outcome = await runAll(opts, progress);
  const perGateway = outcome.gateways.map((g) => ({ kind: g.kind, figs: buildFigures(g.raw, opts.counts) }));
  const shared = buildSharedFigures(outcome.token, outcome.authStart, outcome.hook, outcome.dpop);
  const missing = missingFigures(opts, perGateway, shared);
  if (missing.length > 0) outcome.failures.push(`incomplete figures${outcome.truncated ? ' (global deadline reached)' : ''}: ${missing.join(', ')}`);

  human.write(`\nmcp-keybridge bench — ${opts.quick ? 'QUICK (counts too small to judge targets)' : 'full'} run, ${opts.reps} repetitions\n`);
  human.write(`machine: node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, ${machine.platform}, load ${String(machine.loadAverage)}\n`);
  if (opts.bridgeNodeArgs.length > 0) human.write(`bridge node flags: ${opts.bridgeNodeArgs.join(' ')}\n`);
  if (opts.bridgeArgs.length > 0) human.write(`extra bridge flags: ${opts.bridgeArgs.join(' ')}\n`);
  human.write(`keychain session bus: ${process.env.DBUS_SESSION_BUS_ADDRESS ? 'yes' : 'none (run under scripts/with-keyring.sh for one)'}\n`);
  for (const { kind, figs } of perGateway) {
    if (figs.length > 0) human.write(`\n### ${GATEWAY_TITLES[kind]}\n${renderTable(figs)}\n`);
  }
  if (shared.length > 0) human.write(`\n### measured once, on the lab\n${renderTable(shared)}\n`);
  const withTargets = [...perGateway, ...(shared.length > 0 ? [{ kind: 'lab (once)', figs: shared }] : [])];
  human.write(`\n### summary: the bridge against the direct client of the same run, per gateway\n${renderSummary(withTargets)}\n`);
  human.write(`load average (1, 5, 15 min): ${String(machine.loadAverage)} at the start, ${loadAverage().join(',')} at the end\n`);
  for (const f of outcome.failures) human.write(`BROKEN: ${f}\n`);

  machine.loadAverageAtEnd = loadAverage();
  const report = {
    completed: outcome.failures.length === 0,
    truncated: outcome.truncated,
    elapsedS: Math.round((performance.now() - started) / 100) / 10,
    machine,
    options: { quick: opts.quick, reps: opts.reps, phases: [...opts.phases], gateways: opts.gateways, deadlineMs: Number.isFinite(opts.deadlineMs) ? opts.deadlineMs : null, hookArgs: opts.hookArgs, counts: opts.counts, bridgeNodeArgs: opts.bridgeNodeArgs, bridgeArgs: opts.bridgeArgs, sessionBus: Boolean(process.env.DBUS_SESSION_BUS_ADDRESS) },
    gateways: outcome.gateways.map(({ kind, raw }) => ({
      kind,
      figures: figuresForJson(perGateway.find((g) => g.kind === kind)!.figs),
      blob10: { intact: raw.big.bridgeIntact.length > 0 && raw.big.bridgeIntact.every(Boolean) && raw.big.directIntact.every(Boolean) },
      raw,
    })),
    sharedFigures: figuresForJson(shared),
    staticToken: outcome.token,
    authStart: outcome.authStart,
    hook: outcome.hook,
    dpop: outcome.dpop,
    failures: outcome.failures,
  };
  process.stdout.write(`${opts.json ? '' : '\nJSON:\n'}${JSON.stringify(report)}\n`);
  process.exitCode = outcome.failures.length === 0 ? 0 : 1;
  clearTimeout(watchdog);
}

await main();
