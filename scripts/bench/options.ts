/** Command-line options of `npm run bench`, validated once into a typed object. */
import { GATEWAY_KINDS, type GatewayKind } from './gatewayProcess.js';

export const PHASES = ['start', 'authstart', 'echo', 'blob', 'rss', 'big', 'token', 'hook', 'dpop'] as const;
export type Phase = (typeof PHASES)[number];

export interface Counts {
  echoWarmup: number;
  echoSequential: number;
  echoConcurrent: number;
  blobWarmup: number;
  blobSequential: number;
  blobConcurrent: number;
  inFlight: number;
  blobBytes: number;
  burstCalls: number;
  bigBytes: number;
  tokenEchoSequential: number;
}

export interface BenchOptions {
  quick: boolean;
  reps: number;
  json: boolean;
  phases: ReadonlySet<Phase>;
  /** The gateways measured against, in this order (the per-gateway phases run for each). */
  gateways: GatewayKind[];
  /** Global time budget for the whole run; Infinity for none. */
  deadlineMs: number;
  counts: Counts;
  /** Node flags for the bridge child (BENCH_BRIDGE_NODE_ARGS), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  bridgeNodeArgs: string[];
  /** Extra bridge CLI flags (BENCH_BRIDGE_ARGS), e.g. `--token-store memory`. */
  bridgeArgs: string[];
  /** The flags of the hook variant (BENCH_HOOK_ARGS): a policy that never concerns the bench's calls. */
  hookArgs: string[];
}

const MiB = 1024 * 1024;

const FULL: Counts = {
  echoWarmup: 200,
  echoSequential: 2_000,
  echoConcurrent: 4_000,
  blobWarmup: 5,
  blobSequential: 40,
  blobConcurrent: 96,
  inFlight: 16,
  blobBytes: MiB,
  burstCalls: 200,
  bigBytes: 10 * MiB,
  tokenEchoSequential: 1_000,
};

const QUICK: Counts = {
  echoWarmup: 10,
  echoSequential: 60,
  echoConcurrent: 120,
  blobWarmup: 1,
  blobSequential: 4,
  blobConcurrent: 16,
  inFlight: 16,
  blobBytes: MiB,
  burstCalls: 32,
  bigBytes: 10 * MiB,
  tokenEchoSequential: 30,
};

export const USAGE = `usage: node dist/scripts/bench.js [--quick] [--reps N] [--json] [--only phase,...] [--gateways kind,...] [--deadline-s S]
  --quick          small counts (the e2e smoke test uses this)
  --reps N         repetitions per figure (default 5, quick 3; at least 3 for a real report)
  --json           print only the JSON of all raw numbers on stdout (the table goes to stderr)
  --only LIST      run only these phases: ${PHASES.join(', ')}
  --gateways LIST  measure against these gateways (default all): ${GATEWAY_KINDS.join(', ')}
  --deadline-s S   stop starting new work after S seconds (default 2400; 0 = none, the quick default);
                   figures it could not complete are reported as missing
environment:
  BENCH_BRIDGE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"  node flags for the bridge child
  BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/gw"  node flags for the gateway children
  BENCH_BRIDGE_ARGS="--token-store memory"                       extra bridge flags (after the URL)
  BENCH_HOOK_ARGS="--deny-tool x"                                flags of the hook variant (default: a deny rule no call matches)`;

export class OptionsError extends Error {}

/** Parse argv (without node and the script) and the environment. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  let quick = false;
  let json = false;
  let reps: number | undefined;
  let deadlineS: number | undefined;
  let phases: Set<Phase> = new Set(PHASES);
  let gateways: GatewayKind[] = [...GATEWAY_KINDS];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new OptionsError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--json') json = true;
    else if (arg === '--reps') reps = positiveInt(value(), arg);
    else if (arg === '--deadline-s') deadlineS = nonNegativeInt(value(), arg);
    else if (arg === '--gateways') gateways = parseGateways(value());
    else if (arg === '--only') phases = parsePhases(value());
    else throw new OptionsError(`unknown option ${arg}`);
  }
  return {
    quick,
    json,
    reps: reps ?? (quick ? 3 : 5),
    phases,
    gateways,
    deadlineMs: deadlineS === 0 || (deadlineS === undefined && quick) ? Infinity : (deadlineS ?? 2400) * 1000,
    counts: quick ? QUICK : FULL,
    bridgeNodeArgs: words(env.BENCH_BRIDGE_NODE_ARGS),
    bridgeArgs: words(env.BENCH_BRIDGE_ARGS),
    hookArgs: env.BENCH_HOOK_ARGS === undefined ? ['--deny-tool', 'never-called-by-the-bench'] : words(env.BENCH_HOOK_ARGS),
  };
}

/** Whitespace-separated flags (no quoting: the flags the bench needs have no spaces). */
function words(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter(Boolean);
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new OptionsError(`${flag} takes a positive integer, got "${value}"`);
  return n;
}

function nonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new OptionsError(`${flag} takes a whole number of seconds, got "${value}"`);
  return n;
}

function parseGateways(list: string): GatewayKind[] {
  const out: GatewayKind[] = [];
  for (const name of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(GATEWAY_KINDS as readonly string[]).includes(name)) throw new OptionsError(`unknown gateway "${name}" (gateways: ${GATEWAY_KINDS.join(', ')})`);
    if (!out.includes(name as GatewayKind)) out.push(name as GatewayKind);
  }
  if (out.length === 0) throw new OptionsError('--gateways needs at least one gateway');
  return out;
}

function parsePhases(list: string): Set<Phase> {
  const out = new Set<Phase>();
  for (const name of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(PHASES as readonly string[]).includes(name)) throw new OptionsError(`unknown phase "${name}" (phases: ${PHASES.join(', ')})`);
    out.add(name as Phase);
  }
  if (out.size === 0) throw new OptionsError('--only needs at least one phase');
  return out;
}
