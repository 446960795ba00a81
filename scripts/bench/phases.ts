import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { blobText } from '../lab/gateway.js';
import { connectBridge, connectDirect, type BridgeLaunch, type Connection, type Mode } from './connections.js';
import { withTimeout, type Deadline } from './deadline.js';
import { clientEraOf, type GatewayProcess } from './gatewayProcess.js';
import type { BenchOptions } from './options.js';
import { MiB, readCpuMs, readMemory } from './procStatus.js';
import { percentile } from './stats.js';
import { blobCall, concurrent, ECHO_TOOLS, echoCall, rate, sequential, warmUp, type Call } from './workloads.js';

/** What every phase needs. */
export interface PhaseContext {
  opts: BenchOptions;
  deadline: Deadline;
  gateway: GatewayProcess;
  launch: BridgeLaunch;
  directHeaders: Record<string, string>;
  progress(message: string): void;
  /** Things that broke (a crash, a corrupted answer): the run exits non-zero. */
  failures: string[];
}

/** One repetition of a call workload for one mode. */
export interface WorkloadRep {
  p50Ms: number;
  p99Ms: number;
  sequentialCps: number;
  concurrentCps: number;
  sequentialCalls: number;
  concurrentCalls: number;
  /** CPU time per call, µs: the bridge process (bridge mode only), the gateway, and this driver. */
  bridgeCpuUsPerCall?: number;
  gatewayCpuUsPerCall: number;
  driverCpuUsPerCall: number;
}

export interface RawResults {
  start: { nodeMs: number[]; bridgeMs: number[]; directConnectMs: number[] };
  echo: Record<Mode, WorkloadRep[]>;
  blob: Record<Mode, WorkloadRep[]>;
  /** The 1 MiB workload through the floor relay (floorRelay.ts) in the bridge's place. */
  floorBlob: WorkloadRep[];
  rss: { idleRssMiB: number[]; idleHwmMiB: number[]; burstHwmMiB: number[]; burstSampledMaxMiB: number[]; burstCps: number[] };
  big: { bridgeIntact: boolean[]; directIntact: boolean[]; idleRssMiB: number[]; peakHwmMiB: number[]; bridgeMs: number[]; directMs: number[] };
}

export function emptyResults(): RawResults {
  return {
    start: { nodeMs: [], bridgeMs: [], directConnectMs: [] },
    echo: { direct: [], bridge: [] },
    blob: { direct: [], bridge: [] },
    floorBlob: [],
    rss: { idleRssMiB: [], idleHwmMiB: [], burstHwmMiB: [], burstSampledMaxMiB: [], burstCps: [] },
    big: { bridgeIntact: [], directIntact: [], idleRssMiB: [], peakHwmMiB: [], bridgeMs: [], directMs: [] },
  };
}

/** Generous: a loaded machine makes a start slower, never a failure. */
const CONNECT_TIMEOUT_MS = 60_000;
const NODE_BASELINE_TIMEOUT_MS = 30_000;
const ECHO_TEXT = 'hello from the keybridge bench';

/** Open a connection of the given mode. */
function open(ctx: PhaseContext, mode: Mode): Promise<Connection> {
  return mode === 'direct'
    ? connectDirect(ctx.gateway.url, ctx.directHeaders, CONNECT_TIMEOUT_MS, clientEraOf(ctx.gateway.kind))
    : connectBridge(ctx.gateway.url, ctx.launch, CONNECT_TIMEOUT_MS, clientEraOf(ctx.gateway.kind));
}

/** Run `body` on a fresh connection, always closing it; a failure is recorded, not thrown. */
export async function withConnection(ctx: PhaseContext, mode: Mode, what: string, body: (c: Connection) => Promise<void>): Promise<void> {
  let conn: Connection | undefined;
  try {
    conn = await open(ctx, mode);
    await body(conn);
  } catch (err) {
    const crash = conn?.failure();
    ctx.failures.push(`${what} (${mode}): ${(err as Error).message}${crash ? ` — ${crash}` : ''}`);
  } finally {
    if (conn) {
      await withTimeout(conn.close(), 10_000, `closing the ${mode} client`).catch((err: unknown) => ctx.failures.push((err as Error).message));
      const failure = conn.failure();
      if (failure && !ctx.failures.some((f) => f.includes(failure))) ctx.failures.push(`${what} (${mode}): ${failure}`);
    }
  }
}

/** Two connections open at once (`a` first), both always closed; failures are recorded as withConnection does. */
export async function withPair(
  a: { ctx: PhaseContext; mode: Mode },
  b: { ctx: PhaseContext; mode: Mode },
  what: string,
  body: (ca: Connection, cb: Connection) => Promise<void>,
): Promise<void> {
  await withConnection(a.ctx, a.mode, what, async (ca) => {
    if (a.ctx.deadline.expired) return;
    await withConnection(b.ctx, b.mode, what, (cb) => body(ca, cb));
  });
}

/** Wall time of spawning `node -e 0` until it exits: the floor for any Node CLI's start. */
export async function nodeBaselineMs(): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const [code] = (await withTimeout(once(child, 'exit'), NODE_BASELINE_TIMEOUT_MS, 'node -e 0')) as [number | null];
  if (code !== 0) throw new Error(`node -e 0 exited with ${code}`);
  return performance.now() - t0;
}

/**
 * Untimed first spawns so the page cache and the gateway's first session do not count. The
 * bridge lives past bin/compileCache.js's WRITE_AFTER_MS, so the full code cache is written here
 * and not by a timed bridge while the other mode of its repetition is measured.
 */
export async function warmStart(ctx: PhaseContext): Promise<void> {
  await nodeBaselineMs();
  await withConnection(ctx, 'bridge', 'warm-up start', async () => {
    await new Promise((resolve) => setTimeout(resolve, WARM_BRIDGE_LIFE_MS));
  });
  await withConnection(ctx, 'direct', 'warm-up start', async () => {});
}

/** Longer than bin/compileCache.js's WRITE_AFTER_MS (2 s). */
const WARM_BRIDGE_LIFE_MS = 2_500;

/**
 * One repetition of figures 1–4: node baseline, then a fresh connection per mode (order alternating
 * per rep; its connect time is the start figure), both open at once so that each figure's two runs
 * follow each other: the echo workloads of both, then the 1 MiB workloads of both. (Run one mode
 * after the other, a figure's direct and bridge runs were ~10 s of other work apart, and this
 * machine's speed drifts by more than the targets' margins within that. Calls are not interleaved
 * one by one here: the direct client leaves far more work behind it in this process (undici's
 * garbage: ~0.8 ms of CPU per echo, ~6 ms per 1 MiB call) than the stdio client does, and the
 * next call, the bridge's, would pay for it.)
 */
export async function runMainRep(ctx: PhaseContext, rep: number, out: RawResults): Promise<void> {
  const { phases, counts } = ctx.opts;
  if (phases.has('start')) out.start.nodeMs.push(await nodeBaselineMs());
  const [first, second]: Mode[] = rep % 2 === 0 ? ['direct', 'bridge'] : ['bridge', 'direct'];
  const blob = blobText(counts.blobBytes);
  if (ctx.deadline.expired) return;
  // The floor relay's run goes before the pair on odd repetitions and after it on even ones.
  if (phases.has('blob') && rep % 2 === 1) await runFloorBlob(ctx, rep, blob, out);
  await withPair({ ctx, mode: first }, { ctx, mode: second }, `repetition ${rep + 1}`, async (a, b) => {
    const both: [Mode, Connection][] = [
      [first, a],
      [second, b],
    ];
    for (const [mode, conn] of both) {
      if (phases.has('start')) (mode === 'bridge' ? out.start.bridgeMs : out.start.directConnectMs).push(conn.connectMs);
    }
    if (phases.has('echo')) {
      for (const [mode, conn] of both) {
        if (ctx.deadline.expired) return;
        const call = echoCall(conn, ECHO_TEXT, ECHO_TOOLS[ctx.gateway.kind]);
        await warmUp(call, counts.echoWarmup, ctx.deadline);
        out.echo[mode].push(await workload(ctx, conn, call, counts.echoSequential, counts.echoConcurrent));
      }
    }
    if (phases.has('blob')) {
      for (const [mode, conn] of both) {
        if (ctx.deadline.expired) return;
        const call = blobCall(conn, blob);
        await warmUp(call, counts.blobWarmup, ctx.deadline);
        out.blob[mode].push(await workload(ctx, conn, call, counts.blobSequential, counts.blobConcurrent));
      }
    }
  });
  if (phases.has('blob') && rep % 2 === 0) await runFloorBlob(ctx, rep, blob, out);
}

const FLOOR_RELAY = fileURLToPath(new URL('./floorRelay.js', import.meta.url));

/**
 * The 1 MiB workload with the floor relay spawned in the bridge's place by the same client: what
 * a relay that only copies bytes costs on this machine, beside what the bridge costs.
 */
async function runFloorBlob(ctx: PhaseContext, rep: number, blob: string, out: RawResults): Promise<void> {
  if (ctx.deadline.expired) return;
  const floorCtx: PhaseContext = { ...ctx, launch: { binPath: FLOOR_RELAY, nodeArgs: [], bridgeArgs: [], env: {} } };
  await withConnection(floorCtx, 'bridge', `floor relay, repetition ${rep + 1}`, async (conn) => {
    const call = blobCall(conn, blob);
    await warmUp(call, ctx.opts.counts.blobWarmup, ctx.deadline);
    out.floorBlob.push(await workload(ctx, conn, call, ctx.opts.counts.blobSequential, ctx.opts.counts.blobConcurrent));
  });
}

async function workload(ctx: PhaseContext, conn: Connection, call: Call, seqCount: number, concCount: number): Promise<WorkloadRep> {
  const before = await cpuSnapshot(ctx, conn);
  const seq = await sequential(call, seqCount, ctx.deadline);
  const conc = await concurrent(call, concCount, ctx.opts.counts.inFlight, ctx.deadline);
  const after = await cpuSnapshot(ctx, conn);
  const calls = seq.latenciesMs.length + conc.completed;
  const perCall = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined || calls === 0 ? undefined : ((b - a) * 1000) / calls;
  return {
    p50Ms: percentile(seq.latenciesMs, 0.5),
    p99Ms: percentile(seq.latenciesMs, 0.99),
    sequentialCps: rate(seq.latenciesMs.length, seq.elapsedMs),
    concurrentCps: rate(conc.completed, conc.elapsedMs),
    sequentialCalls: seq.latenciesMs.length,
    concurrentCalls: conc.completed,
    bridgeCpuUsPerCall: perCall(before.bridge, after.bridge),
    gatewayCpuUsPerCall: perCall(before.gateway, after.gateway) ?? Number.NaN,
    driverCpuUsPerCall: perCall(before.driver, after.driver) ?? Number.NaN,
  };
}

async function cpuSnapshot(ctx: PhaseContext, conn: Connection): Promise<{ bridge?: number; gateway: number; driver: number }> {
  const usage = process.cpuUsage();
  return {
    bridge: conn.pid !== undefined ? await readCpuMs(conn.pid) : undefined,
    gateway: await readCpuMs(ctx.gateway.pid),
    driver: (usage.user + usage.system) / 1000,
  };
}

/** Figure 5: a fresh bridge's peak RSS after start + one call, then after a burst of 1 MiB answers. */
export async function runRssRep(ctx: PhaseContext, rep: number, out: RawResults): Promise<void> {
  const { counts } = ctx.opts;
  await withConnection(ctx, 'bridge', `RSS repetition ${rep + 1}`, async (conn) => {
    const pid = conn.pid!;
    await echoCall(conn, ECHO_TEXT, ECHO_TOOLS[ctx.gateway.kind])();
    const idle = await readMemory(pid);
    const sampler = rssSampler(pid);
    const burst = await concurrent(blobCall(conn, blobText(counts.blobBytes)), counts.burstCalls, counts.inFlight, ctx.deadline);
    const sampledMax = await sampler.stop();
    const after = await readMemory(pid);
    out.rss.idleRssMiB.push(idle.rssBytes / MiB);
    out.rss.idleHwmMiB.push(idle.hwmBytes / MiB);
    out.rss.burstHwmMiB.push(after.hwmBytes / MiB);
    out.rss.burstSampledMaxMiB.push(sampledMax / MiB);
    out.rss.burstCps.push(rate(burst.completed, burst.elapsedMs));
  });
}

/** Poll VmRSS every 20 ms as a cross-check of VmHWM (which is the figure). */
function rssSampler(pid: number): { stop(): Promise<number> } {
  let max = 0;
  let pending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pending = readMemory(pid).then(
      (m) => {
        max = Math.max(max, m.rssBytes);
      },
      () => {},
    );
  }, 20);
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      return max;
    },
  };
}

/** Figure 6: a 10 MiB answer through a fresh bridge arrives intact, with bounded peak RSS; direct for reference. */
export async function runBigRep(ctx: PhaseContext, rep: number, out: RawResults): Promise<void> {
  const expected = blobText(ctx.opts.counts.bigBytes);
  await withConnection(ctx, 'bridge', `10 MiB repetition ${rep + 1}`, async (conn) => {
    const pid = conn.pid!;
    await echoCall(conn, ECHO_TEXT, ECHO_TOOLS[ctx.gateway.kind])();
    const idle = await readMemory(pid);
    const t0 = performance.now();
    out.big.bridgeIntact.push(false);
    await blobCall(conn, expected)();
    out.big.bridgeIntact[out.big.bridgeIntact.length - 1] = true;
    out.big.bridgeMs.push(performance.now() - t0);
    const peak = await readMemory(pid);
    out.big.idleRssMiB.push(idle.rssBytes / MiB);
    out.big.peakHwmMiB.push(peak.hwmBytes / MiB);
  });
  await withConnection(ctx, 'direct', `10 MiB repetition ${rep + 1}`, async (conn) => {
    const t0 = performance.now();
    out.big.directIntact.push(false);
    await blobCall(conn, expected)();
    out.big.directIntact[out.big.directIntact.length - 1] = true;
    out.big.directMs.push(performance.now() - t0);
  });
}
