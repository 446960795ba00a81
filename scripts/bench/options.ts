/** Command-line options of `npm run bench`, validated once into a typed object. */

export const PHASES = ['start', 'authstart', 'echo', 'blob', 'rss', 'big', 'token'] as const;
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
  /** Global time budget for the whole run. */
  deadlineMs: number;
  counts: Counts;
  /** Node flags for the bridge child (BENCH_BRIDGE_NODE_ARGS), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  bridgeNodeArgs: string[];
  /** Extra bridge CLI flags (BENCH_BRIDGE_ARGS), e.g. `--token-store memory`. */
  bridgeArgs: string[];
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

export const USAGE = `usage: node dist/scripts/bench.js [--quick] [--reps N] [--json] [--only phase,...] [--deadline-s S]
  --quick        small counts (the e2e test uses this)
  --reps N       repetitions per figure (default 5, quick 3; at least 3 for a real report)
  --json         print only the JSON of all raw numbers on stdout (the table goes to stderr)
  --only LIST    run only these phases: ${PHASES.join(', ')}
  --deadline-s S global time budget in seconds (default 900, quick 50)
environment:
  BENCH_BRIDGE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"  node flags for the bridge child
  BENCH_BRIDGE_ARGS="--token-store memory"                       extra bridge flags (after the URL)`;

export class OptionsError extends Error {}

/** Parse argv (without node and the script) and the environment. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  let quick = false;
  let json = false;
  let reps: number | undefined;
  let deadlineS: number | undefined;
  let phases: Set<Phase> = new Set(PHASES);
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
    else if (arg === '--deadline-s') deadlineS = positiveInt(value(), arg);
    else if (arg === '--only') phases = parsePhases(value());
    else throw new OptionsError(`unknown option ${arg}`);
  }
  return {
    quick,
    json,
    reps: reps ?? (quick ? 3 : 5),
    phases,
    deadlineMs: (deadlineS ?? (quick ? 50 : 900)) * 1000,
    counts: quick ? QUICK : FULL,
    bridgeNodeArgs: words(env.BENCH_BRIDGE_NODE_ARGS),
    bridgeArgs: words(env.BENCH_BRIDGE_ARGS),
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

function parsePhases(list: string): Set<Phase> {
  const out = new Set<Phase>();
  for (const name of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(PHASES as readonly string[]).includes(name)) throw new OptionsError(`unknown phase "${name}" (phases: ${PHASES.join(', ')})`);
    out.add(name as Phase);
  }
  if (out.size === 0) throw new OptionsError('--only needs at least one phase');
  return out;
}
