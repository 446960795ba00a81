import { relayCostUs } from './hookRelayCost.js';
import { withPair, type PhaseContext } from './phases.js';
import { percentile } from './stats.js';
import { ECHO_TOOLS, echoCall, interleaved, warmUp } from './workloads.js';

/** The relay hook (tool policy, budgets, approvals) on a call it does not concern: plain bridge vs hooked bridge. */
export interface HookResults {
  args: string[];
  plainP50Ms: number[];
  hookedP50Ms: number[];
  /** In the bench process: the relay's work per tools/call and its answer, plain and hooked (hookRelayCost), p50 µs. */
  plainRelayUs: number[];
  hookedRelayUs: number[];
}

const ECHO_TEXT = 'hello through the hook';

/**
 * On the phase's gateway, a bridge as usual and a bridge with the hook variant's flags (a policy
 * that never matches the bench's calls), both open at once, timed on echo calls that go to the two
 * in turn (which one opens first alternates per repetition). The hooked bridge relays the parsed, re-serialized message (what is judged is what is
 * forwarded), so this is the whole cost of having a policy at all. Two bridge processes differ by
 * more than that from run to run, so the hook's own work is also timed in-process (hookRelayCost).
 */
export async function runHookPhase(base: PhaseContext): Promise<HookResults> {
  const out: HookResults = { args: base.opts.hookArgs, plainP50Ms: [], hookedP50Ms: [], plainRelayUs: [], hookedRelayUs: [] };
  const hooked: PhaseContext = { ...base, launch: { ...base.launch, bridgeArgs: [...base.launch.bridgeArgs, ...base.opts.hookArgs] } };
  const { counts } = base.opts;
  for (let rep = 0; rep < base.opts.reps && !base.deadline.expired; rep++) {
    const [first, second] = rep % 2 === 0 ? [base, hooked] : [hooked, base];
    await withPair({ ctx: first, mode: 'bridge' }, { ctx: second, mode: 'bridge' }, `hook repetition ${rep + 1}`, async (a, b) => {
      const calls = [a, b].map((conn) => echoCall(conn, ECHO_TEXT, ECHO_TOOLS[base.gateway.kind]));
      for (const call of calls) await warmUp(call, counts.echoWarmup, base.deadline);
      const [sa, sb] = await interleaved(calls[0]!, calls[1]!, counts.tokenEchoSequential, base.deadline);
      const [plain, hook] = first === base ? [sa, sb] : [sb, sa];
      out.plainP50Ms.push(percentile(plain.latenciesMs, 0.5));
      out.hookedP50Ms.push(percentile(hook.latenciesMs, 0.5));
    });
    const cost = await relayCostUs(base.opts.hookArgs);
    out.plainRelayUs.push(cost.plain);
    out.hookedRelayUs.push(cost.hooked);
  }
  return out;
}
