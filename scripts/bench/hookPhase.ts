import { withConnection, type PhaseContext } from './phases.js';
import { percentile } from './stats.js';
import { ECHO_TOOLS, echoCall, sequential, warmUp } from './workloads.js';

/** The relay hook (tool policy, budgets, approvals) on a call it does not concern: plain bridge vs hooked bridge. */
export interface HookResults {
  args: string[];
  plainP50Ms: number[];
  hookedP50Ms: number[];
}

const ECHO_TEXT = 'hello through the hook';

/**
 * On the phase's gateway, alternating per repetition: a bridge as usual and a bridge with the hook
 * variant's flags (a policy that never matches the bench's calls), each timed on sequential echo
 * calls. The hooked bridge relays the parsed, re-serialized message (what is judged is what is
 * forwarded), so this is the whole cost of having a policy at all.
 */
export async function runHookPhase(base: PhaseContext): Promise<HookResults> {
  const out: HookResults = { args: base.opts.hookArgs, plainP50Ms: [], hookedP50Ms: [] };
  const hooked: PhaseContext = { ...base, launch: { ...base.launch, bridgeArgs: [...base.launch.bridgeArgs, ...base.opts.hookArgs] } };
  const { counts } = base.opts;
  for (let rep = 0; rep < base.opts.reps && !base.deadline.expired; rep++) {
    const order = rep % 2 === 0 ? [base, hooked] : [hooked, base];
    for (const ctx of order) {
      const label = ctx === hooked ? 'hooked' : 'plain';
      await withConnection(ctx, 'bridge', `hook repetition ${rep + 1} (${label})`, async (conn) => {
        const call = echoCall(conn.client, ECHO_TEXT, ECHO_TOOLS[ctx.gateway.kind]);
        await warmUp(call, counts.echoWarmup, ctx.deadline);
        const seq = await sequential(call, counts.tokenEchoSequential, ctx.deadline);
        (ctx === hooked ? out.hookedP50Ms : out.plainP50Ms).push(percentile(seq.latenciesMs, 0.5));
      });
    }
  }
  return out;
}
