import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createDpopKey } from '../../src/auth/dpop/dpopGrant.js';
import { DpopRequestAuth } from '../../src/auth/dpop/dpopRequestAuth.js';
import type { StoredSession } from '../../src/auth/tokenSet.js';
import { SCRIPTED_BROWSER_ENV } from '../lab/scriptedBrowserEnv.js';
import { runCli } from './cliProcess.js';
import { startGatewayProcess, type GatewayProcess } from './gatewayProcess.js';
import { durationsWithin, readHandlerTimes } from './handlerTimes.js';
import { withPair, type PhaseContext } from './phases.js';
import { percentile } from './stats.js';
import type { Deadline } from './deadline.js';
import { readCpuMs } from './procStatus.js';
import { echoCall, interleaved, sequential, warmUp } from './workloads.js';

const SCRIPTED_BROWSER = fileURLToPath(new URL('../lab/scriptedBrowser.js', import.meta.url));
const LOGIN_TIMEOUT_MS = 60_000;
const ECHO_TEXT = 'hello with a bound token';
/** Samples per repetition of the in-process figure, each the mean of a batch (finer than the clock). */
const SAMPLES_PER_REP = 400;
const CALLS_PER_SAMPLE = 20;
/** Sequential calls per side over which CPU per call is read. */
const CPU_CALLS = 300;

/** DPoP against Bearer on the same lab: the gateway takes both, so only the binding differs. */
export interface DpopResults {
  /** Echo p50 per repetition through a bridge signed in with --no-dpop (Bearer). */
  bearerP50Ms: number[];
  /** Echo p50 per repetition through a bridge whose tokens are DPoP-bound (a proof per request). */
  dpopP50Ms: number[];
  /** In the bench process: the auth headers of one request, Bearer vs DPoP (the bridge's own code), p50 µs. */
  bearerHeadersUs: number[];
  dpopHeadersUs: number[];
  /** CPU per call, µs, of each bridge and of the gateway while it serves that bridge alone (where the difference goes). */
  cpuUs: Record<'bearer' | 'dpop', { bridge: number[]; gateway: number[] }>;
  /**
   * Per repetition, the p50 time the gateway itself held a call (its 'request' event to the
   * response's 'finish', timed in the gateway process, handlerTimes.ts), Bearer and DPoP: the
   * share of the difference that is the gateway's proof check, not the bridge.
   */
  gatewayP50Ms: { bearer: number[]; dpop: number[] };
  /** What `status --json` said about each profile (proves each bridge used the binding it claims). */
  bindings: { bearer?: string; dpop?: string };
}

/**
 * The lab in its 'dpop' mode (a gateway that checks every proof with jose), two sign-ins as a user
 * would (`login --no-dpop` and `login`), then both bridges open at once, timed on echo calls that go
 * to the two in turn.
 * The difference is the whole cost of DPoP per call: the bridge's proof and the gateway's check.
 * The gateway times its own part (handlerTimes.ts); what is left is the bridge's and the wire's.
 * The bridge's proof alone is also measured in-process with the same module the bridge uses.
 */
export async function runDpopPhase(base: Omit<PhaseContext, 'gateway'>): Promise<DpopResults> {
  const out: DpopResults = { bearerP50Ms: [], dpopP50Ms: [], bearerHeadersUs: [], dpopHeadersUs: [], cpuUs: { bearer: { bridge: [], gateway: [] }, dpop: { bridge: [], gateway: [] } }, gatewayP50Ms: { bearer: [], dpop: [] }, bindings: {} };
  const root = await mkdtemp(path.join(tmpdir(), 'kb-bench-dpop-'));
  const timesFile = path.join(root, 'gateway-times.json');
  /** Per repetition, when its interleaved calls began and ended (epoch ms): the gateway's own times are read for that span. */
  const windows: { from: number; to: number }[] = [];
  let gateway: GatewayProcess | undefined;
  try {
    gateway = await startGatewayProcess({ auth: { mode: 'oauth', dpop: true }, startTimeoutMs: 60_000, handlerTimesFile: timesFile });
    const profiles = { bearer: ['--no-dpop'], dpop: [] as string[] };
    const contexts: Record<'bearer' | 'dpop', PhaseContext> = {} as Record<'bearer' | 'dpop', PhaseContext>;
    for (const kind of ['bearer', 'dpop'] as const) {
      const env = {
        MCP_KEYBRIDGE_HOME: path.join(root, `${kind}-home`),
        BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`,
        ...SCRIPTED_BROWSER_ENV,
        LAB_BROWSER_LOG: path.join(root, `${kind}-browser.log`),
      };
      const flags = ['--token-store', 'file', ...profiles[kind]];
      await runCli(base.launch.binPath, ['login', gateway.url, ...flags], env, LOGIN_TIMEOUT_MS);
      const status = JSON.parse(await runCli(base.launch.binPath, ['status', gateway.url, '--json', ...flags], env, 20_000)) as { sessions: { binding?: string }[] };
      out.bindings[kind] = status.sessions[0]?.binding;
      contexts[kind] = { ...base, gateway, launch: { ...base.launch, bridgeArgs: [...base.launch.bridgeArgs, ...flags], env: { ...base.launch.env, ...env } } };
    }
    if (out.bindings.bearer !== 'bearer' || out.bindings.dpop !== 'dpop') {
      base.failures.push(`dpop: the profiles are not what they should be (bearer: ${out.bindings.bearer}, dpop: ${out.bindings.dpop})`);
      return out;
    }
    const { counts } = base.opts;
    for (let rep = 0; rep < base.opts.reps && !base.deadline.expired; rep++) {
      base.progress(`dpop vs bearer repetition ${rep + 1}/${base.opts.reps}`);
      const [first, second] = rep % 2 === 0 ? (['bearer', 'dpop'] as const) : (['dpop', 'bearer'] as const);
      await withPair({ ctx: contexts[first], mode: 'bridge' }, { ctx: contexts[second], mode: 'bridge' }, `dpop vs bearer repetition ${rep + 1}`, async (a, b) => {
        const calls = [a, b].map((conn) => echoCall(conn, ECHO_TEXT));
        for (const call of calls) await warmUp(call, counts.echoWarmup, base.deadline);
        const from = Date.now();
        const [sa, sb] = await interleaved(calls[0]!, calls[1]!, counts.tokenEchoSequential, base.deadline);
        windows.push({ from, to: Date.now() });
        (first === 'dpop' ? out.dpopP50Ms : out.bearerP50Ms).push(percentile(sa.latenciesMs, 0.5));
        (second === 'dpop' ? out.dpopP50Ms : out.bearerP50Ms).push(percentile(sb.latenciesMs, 0.5));
        for (const [kind, conn, call] of [[first, a, calls[0]!], [second, b, calls[1]!]] as const) {
          const cpu = await cpuPerCallUs(conn.pid!, gateway!.pid, call, CPU_CALLS, base.deadline);
          out.cpuUs[kind].bridge.push(cpu.bridge);
          out.cpuUs[kind].gateway.push(cpu.gateway);
        }
      });
      const headers = await headersCost();
      out.bearerHeadersUs.push(headers.bearer);
      out.dpopHeadersUs.push(headers.dpop);
    }
    await gateway.close();
    const times = await readHandlerTimes(timesFile);
    for (const { from, to } of windows) {
      const bearer = durationsWithin(times, 'bearer', from, to);
      const dpop = durationsWithin(times, 'dpop', from, to);
      // NaN keeps the repetitions aligned with the end-to-end ones when the gateway recorded nothing.
      out.gatewayP50Ms.bearer.push(bearer.length > 0 ? percentile(bearer, 0.5) : Number.NaN);
      out.gatewayP50Ms.dpop.push(dpop.length > 0 ? percentile(dpop, 0.5) : Number.NaN);
    }
  } finally {
    await gateway?.close();
    await rm(root, { recursive: true, force: true });
  }
  return out;
}

/** CPU time per call, µs, of the bridge and the gateway over `count` sequential calls on one connection. */
async function cpuPerCallUs(bridgePid: number, gatewayPid: number, call: () => Promise<void>, count: number, deadline: Deadline): Promise<{ bridge: number; gateway: number }> {
  const before = [await readCpuMs(bridgePid), await readCpuMs(gatewayPid)];
  const seq = await sequential(call, count, deadline);
  const after = [await readCpuMs(bridgePid), await readCpuMs(gatewayPid)];
  const n = seq.latenciesMs.length;
  return { bridge: ((after[0]! - before[0]!) * 1000) / n, gateway: ((after[1]! - before[1]!) * 1000) / n };
}

/** p50 µs of one request's auth headers, as the bridge computes them, for a Bearer and a DPoP-bound session. */
async function headersCost(): Promise<{ bearer: number; dpop: number }> {
  const auth = new DpopRequestAuth({ now: () => Date.now() });
  const session: StoredSession = {
    version: 1,
    server: 'http://127.0.0.1:1/mcp',
    issuer: 'http://127.0.0.1:2',
    clientId: 'bench',
    clientSource: 'dynamic',
    tokenEndpoint: 'http://127.0.0.1:2/token',
    accessToken: `eyJ${'a'.repeat(900)}`,
    tokenType: 'Bearer',
    obtainedAt: Date.now(),
  };
  const bound: StoredSession = { ...session, tokenType: 'DPoP', dpop: await createDpopKey('ES256') };
  const target = { method: 'POST' as const, url: new URL(session.server) };
  const time = (s: StoredSession): number => {
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES_PER_REP; i++) {
      const t = performance.now();
      for (let j = 0; j < CALLS_PER_SAMPLE; j++) auth.headersFor(s, target);
      samples.push(((performance.now() - t) * 1000) / CALLS_PER_SAMPLE);
    }
    return percentile(samples, 0.5);
  };
  time(bound); // the first proof imports the key
  return { bearer: time(session), dpop: time(bound) };
}
