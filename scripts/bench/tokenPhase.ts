import { randomBytes } from 'node:crypto';
import { connectDirect, type Mode } from './connections.js';
import { startGatewayProcess } from './gatewayProcess.js';
import { withConnection, type PhaseContext } from './phases.js';
import { percentile } from './stats.js';
import { echoCall, sequential, warmUp } from './workloads.js';

/** The static-token variant: the bridge adds `Authorization: Bearer ${LAB_TOKEN}` from --header. */
export interface TokenResults {
  /** A direct client without the token was refused (proves the token path is exercised). */
  refusedWithoutToken: boolean;
  bridgeStartMs: number[];
  echo: Record<Mode, { p50Ms: number; p99Ms: number }[]>;
}

const ECHO_TEXT = 'hello with a token';

/** Start a second lab gateway in static-token mode and measure start and echo latency through it. */
export async function runTokenPhase(base: Omit<PhaseContext, 'gateway'>): Promise<TokenResults> {
  const token = randomBytes(24).toString('base64url');
  const gateway = await startGatewayProcess({ auth: { mode: 'static', token }, startTimeoutMs: 60_000 });
  const out: TokenResults = { refusedWithoutToken: false, bridgeStartMs: [], echo: { direct: [], bridge: [] } };
  try {
    const ctx: PhaseContext = {
      ...base,
      gateway,
      directHeaders: { Authorization: `Bearer ${token}` },
      launch: {
        ...base.launch,
        bridgeArgs: [...base.launch.bridgeArgs, '--header', 'Authorization: Bearer ${LAB_TOKEN}'],
        env: { ...base.launch.env, LAB_TOKEN: token },
      },
    };
    try {
      const anonymous = await connectDirect(gateway.url, {}, 10_000);
      await anonymous.close();
    } catch {
      out.refusedWithoutToken = true;
    }
    const { counts } = ctx.opts;
    for (let rep = 0; rep < ctx.opts.reps && !ctx.deadline.expired; rep++) {
      const order: Mode[] = rep % 2 === 0 ? ['direct', 'bridge'] : ['bridge', 'direct'];
      for (const mode of order) {
        await withConnection(ctx, mode, `static token repetition ${rep + 1}`, async (conn) => {
          if (mode === 'bridge') out.bridgeStartMs.push(conn.connectMs);
          const call = echoCall(conn, ECHO_TEXT);
          await warmUp(call, counts.echoWarmup, ctx.deadline);
          const seq = await sequential(call, counts.tokenEchoSequential, ctx.deadline);
          out.echo[mode].push({ p50Ms: percentile(seq.latenciesMs, 0.5), p99Ms: percentile(seq.latenciesMs, 0.99) });
        });
      }
    }
  } finally {
    await gateway.close();
  }
  return out;
}
