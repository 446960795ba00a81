import type { Connection } from './connections.js';
import type { Deadline } from './deadline.js';
import type { GatewayKind } from './gatewayProcess.js';

/** One tool call that resolves when the answer arrived and was checked. */
export type Call = () => Promise<void>;

const CALL_TIMEOUT_MS = 60_000;

/** Thrown when a relayed answer is not what the gateway sent (the bench exits non-zero). */
export class IntegrityError extends Error {}

/** The smallest round trip a gateway offers: a tool that answers with (a text made of) its argument. */
export interface EchoTool {
  name: string;
  argument: string;
  answer(text: string): string;
}

const ECHO: EchoTool = { name: 'echo', argument: 'text', answer: (t) => t };

/** Per gateway: the lab and v2 gateways have `echo`; the SDK example has `greet` ("Hello, NAME!"). */
export const ECHO_TOOLS: Record<GatewayKind, EchoTool> = {
  lab: ECHO,
  v2: ECHO,
  'v2-2026': ECHO,
  example: { name: 'greet', argument: 'name', answer: (t) => `Hello, ${t}!` },
};

/** What a call needs of a connection: its client's tools/call. */
type Caller = Pick<Connection, 'callTool'>;

/** A call to the echo tool that checks the answer is exactly what the tool makes of the text. */
export function echoCall(conn: Caller, text: string, tool: EchoTool = ECHO_TOOLS.lab): Call {
  const expected = tool.answer(text);
  return async () => {
    const result = await conn.callTool({ name: tool.name, arguments: { [tool.argument]: text } }, CALL_TIMEOUT_MS);
    const got = firstText(result);
    if (got !== expected) throw new IntegrityError(`${tool.name} answered ${JSON.stringify(got?.slice(0, 80))} instead of ${JSON.stringify(expected)}`);
  };
}

/** A call to `blob` that checks the length and the content against the gateway's pattern. */
export function blobCall(conn: Caller, expected: string): Call {
  return async () => {
    const result = await conn.callTool({ name: 'blob', arguments: { bytes: expected.length } }, CALL_TIMEOUT_MS);
    const got = firstText(result);
    if (got === undefined) throw new IntegrityError('blob answered without text content');
    if (got.length !== expected.length) throw new IntegrityError(`blob answered ${got.length} characters instead of ${expected.length}`);
    if (got !== expected) throw new IntegrityError(`blob content differs at offset ${firstDifference(got, expected)}`);
  };
}

function firstText(result: unknown): string | undefined {
  const content = (result as { content?: { type?: string; text?: unknown }[] }).content;
  const first = Array.isArray(content) ? content[0] : undefined;
  return first?.type === 'text' && typeof first.text === 'string' ? first.text : undefined;
}

function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return i;
  return n;
}

/** Run `count` calls one after another (not timed): warm-up. */
export async function warmUp(call: Call, count: number, deadline: Deadline): Promise<void> {
  for (let i = 0; i < count && !deadline.expired; i++) await call();
}

export interface SequentialResult {
  /** Per-call latency, ms. */
  latenciesMs: number[];
  /** Wall time of the whole loop, ms. */
  elapsedMs: number;
}

/** `count` calls one after another, each timed; stops early at the deadline. */
export async function sequential(call: Call, count: number, deadline: Deadline): Promise<SequentialResult> {
  const latenciesMs: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count && !deadline.expired; i++) {
    const t0 = performance.now();
    await call();
    latenciesMs.push(performance.now() - t0);
  }
  return { latenciesMs, elapsedMs: performance.now() - start };
}

/**
 * `count` calls on each of two connections, taking turns (a b, b a, a b, …: each pair's order flips,
 * so neither side is always the one that runs right after the other), each timed. A figure's two
 * sides then see the same machine: this one's speed drifts by more than the targets' margins within
 * the seconds a run of one side alone takes. elapsedMs is the sum of a side's own latencies.
 */
export async function interleaved(a: Call, b: Call, count: number, deadline: Deadline): Promise<[SequentialResult, SequentialResult]> {
  const out: [SequentialResult, SequentialResult] = [
    { latenciesMs: [], elapsedMs: 0 },
    { latenciesMs: [], elapsedMs: 0 },
  ];
  const calls = [a, b] as const;
  for (let i = 0; i < count && !deadline.expired; i++) {
    for (const side of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const t0 = performance.now();
      await calls[side]!();
      const ms = performance.now() - t0;
      out[side]!.latenciesMs.push(ms);
      out[side]!.elapsedMs += ms;
    }
  }
  return out;
}

export interface ConcurrentResult {
  completed: number;
  elapsedMs: number;
}

/** `total` calls with `inFlight` outstanding at any time; stops issuing new calls at the deadline. */
export async function concurrent(call: Call, total: number, inFlight: number, deadline: Deadline): Promise<ConcurrentResult> {
  let issued = 0;
  let completed = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (issued < total && !deadline.expired) {
      issued++;
      await call();
      completed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
  return { completed, elapsedMs: performance.now() - start };
}

/** Calls per second; NaN when nothing completed. */
export function rate(count: number, elapsedMs: number): number {
  return count > 0 && elapsedMs > 0 ? (count * 1000) / elapsedMs : Number.NaN;
}
