import type { Counts } from './options.js';
import type { RawResults, WorkloadRep } from './phases.js';
import { MiB } from './procStatus.js';
import { median, round } from './stats.js';
import type { TokenResults } from './tokenPhase.js';
import type { AuthStartResults } from './authStartPhase.js';
import type { DpopResults } from './dpopPhase.js';
import type { HookResults } from './hookPhase.js';

/** One row of the table: medians of the repetitions, the repetitions, and the verdict. */
export interface Figure {
  key: string;
  label: string;
  unit: string;
  /** What the direct column holds when it is not the direct client (e.g. `node -e 0`). */
  directLabel?: string;
  direct?: number;
  bridge?: number;
  ratio?: number;
  /** Extra text for the ratio column, e.g. the bridge−direct difference. */
  note?: string;
  directReps: number[];
  bridgeReps: number[];
  target: string;
  /** undefined for informational rows. */
  pass?: boolean;
}

type Pick = (r: WorkloadRep) => number | undefined;
const vals = (reps: WorkloadRep[], pick: Pick): number[] => reps.map(pick).filter((v): v is number => v !== undefined);

function pair(key: string, label: string, unit: string, directReps: number[], bridgeReps: number[], target = '', check?: (d: number, b: number) => boolean): Figure {
  const direct = median(directReps);
  const bridge = median(bridgeReps);
  const ratio = bridge / direct;
  const complete = directReps.length > 0 && bridgeReps.length > 0;
  return { key, label, unit, direct, bridge, ratio, directReps, bridgeReps, target, pass: check && complete ? check(direct, bridge) : check ? false : undefined };
}

function bridgeOnly(key: string, label: string, unit: string, bridgeReps: number[], target = '', check?: (b: number) => boolean): Figure {
  const bridge = median(bridgeReps);
  return { key, label, unit, bridge, directReps: [], bridgeReps, target, pass: check ? bridgeReps.length > 0 && check(bridge) : undefined };
}

/** The figures of one gateway's phases (start, echo, 1 MiB, RSS, 10 MiB), with the targets of issue 17. */
export function buildFigures(raw: RawResults, counts: Counts): Figure[] {
  const figs: Figure[] = [];
  const { start, echo, blob, rss, big } = raw;
  if (start.bridgeMs.length > 0) {
    const f = pair('start_ms', 'start → initialize result, gateway without auth', 'ms', start.nodeMs, start.bridgeMs);
    f.directLabel = 'node -e 0';
    figs.push(f);
    figs.push(pair('connect_ms', 'connect() → initialized (direct: no spawn)', 'ms', start.directConnectMs, start.bridgeMs));
  }
  if (echo.bridge.length > 0 || echo.direct.length > 0) {
    const p50 = pair('echo_p50_ms', 'echo latency p50', 'ms', vals(echo.direct, (r) => r.p50Ms), vals(echo.bridge, (r) => r.p50Ms), '≤ direct + 0.1 ms', (d, b) => b - d <= 0.1);
    p50.note = `${signed(p50.bridge! - p50.direct!)} ms`;
    figs.push(p50);
    figs.push(pair('echo_p99_ms', 'echo latency p99', 'ms', vals(echo.direct, (r) => r.p99Ms), vals(echo.bridge, (r) => r.p99Ms)));
    figs.push(pair('echo_seq_cps', 'echo sequential', 'calls/s', vals(echo.direct, (r) => r.sequentialCps), vals(echo.bridge, (r) => r.sequentialCps), '≥ 85% of direct', (d, b) => b / d >= 0.85));
    figs.push(pair('echo_conc_cps', `echo ${counts.inFlight} in flight`, 'calls/s', vals(echo.direct, (r) => r.concurrentCps), vals(echo.bridge, (r) => r.concurrentCps), '≥ 90% of direct', (d, b) => b / d >= 0.9));
    figs.push(bridgeOnly('echo_bridge_cpu_us', 'bridge CPU per echo call', 'µs', vals(echo.bridge, (r) => r.bridgeCpuUsPerCall)));
    figs.push(pair('echo_driver_cpu_us', 'client (driver) CPU per echo call', 'µs', vals(echo.direct, (r) => r.driverCpuUsPerCall), vals(echo.bridge, (r) => r.driverCpuUsPerCall)));
    figs.push(pair('echo_gateway_cpu_us', 'gateway CPU per echo call', 'µs', vals(echo.direct, (r) => r.gatewayCpuUsPerCall), vals(echo.bridge, (r) => r.gatewayCpuUsPerCall)));
  }
  const blobName = sizeName(counts.blobBytes);
  if (blob.bridge.length > 0 || blob.direct.length > 0) {
    figs.push(pair('blob_p50_ms', `${blobName} blob latency p50`, 'ms', vals(blob.direct, (r) => r.p50Ms), vals(blob.bridge, (r) => r.p50Ms), '≤ 1.05× direct', (d, b) => b / d <= 1.05));
    figs.push(pair('blob_p99_ms', `${blobName} blob latency p99`, 'ms', vals(blob.direct, (r) => r.p99Ms), vals(blob.bridge, (r) => r.p99Ms)));
    figs.push(pair('blob_seq_cps', `${blobName} blob sequential`, 'calls/s', vals(blob.direct, (r) => r.sequentialCps), vals(blob.bridge, (r) => r.sequentialCps), '≥ 90% of direct', (d, b) => b / d >= 0.9));
    figs.push(pair('blob_conc_cps', `${blobName} blob ${counts.inFlight} in flight`, 'calls/s', vals(blob.direct, (r) => r.concurrentCps), vals(blob.bridge, (r) => r.concurrentCps), '≥ 90% of direct', (d, b) => b / d >= 0.9));
    figs.push(bridgeOnly('blob_bridge_cpu_us', `bridge CPU per ${blobName} call`, 'µs', vals(blob.bridge, (r) => r.bridgeCpuUsPerCall)));
    figs.push(pair('blob_driver_cpu_us', `client (driver) CPU per ${blobName} call`, 'µs', vals(blob.direct, (r) => r.driverCpuUsPerCall), vals(blob.bridge, (r) => r.driverCpuUsPerCall)));
    figs.push(pair('blob_gateway_cpu_us', `gateway CPU per ${blobName} call`, 'µs', vals(blob.direct, (r) => r.gatewayCpuUsPerCall), vals(blob.bridge, (r) => r.gatewayCpuUsPerCall)));
  }
  if (raw.floorBlob.length > 0) {
    // The floor relay in the bridge column: for reading the bridge's figures against, never judged.
    const floor = (key: string, label: string, unit: string, pick: Pick): Figure => pair(key, `floor relay (copies bytes, checks nothing): ${label}`, unit, vals(blob.direct, pick), vals(raw.floorBlob, pick));
    figs.push(floor('floor_blob_p50_ms', `${blobName} blob latency p50`, 'ms', (r) => r.p50Ms));
    figs.push(floor('floor_blob_seq_cps', `${blobName} blob sequential`, 'calls/s', (r) => r.sequentialCps));
    figs.push(floor('floor_blob_conc_cps', `${blobName} blob ${counts.inFlight} in flight`, 'calls/s', (r) => r.concurrentCps));
    figs.push(bridgeOnly('floor_blob_cpu_us', `floor relay CPU per ${blobName} call`, 'µs', vals(raw.floorBlob, (r) => r.bridgeCpuUsPerCall)));
  }
  if (rss.idleHwmMiB.length > 0) {
    figs.push(bridgeOnly('rss_idle_mib', 'bridge peak RSS after start + 1 call', 'MiB', rss.idleHwmMiB, '≤ 48 MiB', (b) => b <= 48));
    figs.push(bridgeOnly('rss_burst_mib', `bridge peak RSS after ${counts.burstCalls}×${blobName} (${counts.inFlight} in flight)`, 'MiB', rss.burstHwmMiB, '≤ 80 MiB', (b) => b <= 80));
    figs.push(bridgeOnly('rss_burst_cps', `the burst's throughput (${counts.inFlight} in flight)`, 'calls/s', rss.burstCps));
  }
  if (big.bridgeIntact.length > 0) {
    const limitMiB = (counts.bigBytes * 4) / MiB;
    const perRepOk = big.peakHwmMiB.map((p, i) => p <= big.idleRssMiB[i]! + limitMiB);
    const intact = big.bridgeIntact.every(Boolean) && big.directIntact.every(Boolean);
    const bigName = sizeName(counts.bigBytes);
    const f = bridgeOnly('big_peak_mib', `${bigName} result: bridge peak RSS`, 'MiB', big.peakHwmMiB, `intact and ≤ idle + 4×${bigName}`);
    f.pass = intact && perRepOk.length === big.bridgeIntact.length && perRepOk.every(Boolean);
    f.note = `${intact ? 'intact' : 'NOT INTACT'}; limit ${fmt(median(big.idleRssMiB) + limitMiB)}`;
    figs.push(f);
    figs.push(bridgeOnly('big_idle_mib', `${bigName} result: bridge RSS before the call`, 'MiB', big.idleRssMiB));
    figs.push(pair('big_ms', `${bigName} result: call time`, 'ms', big.directMs, big.bridgeMs));
  }
  return figs;
}

/** The figures measured once, on the lab: start with a stored token, the static-token variant, the hook. */
export function buildSharedFigures(token?: TokenResults, authStart?: AuthStartResults, hook?: HookResults, dpop?: DpopResults): Figure[] {
  const figs: Figure[] = [];
  // The start target is about the everyday case: a token already in the store (signed in before).
  for (const store of authStart?.stores ?? []) {
    const f = pair(`auth_start_${store}_ms`, `start → initialize, token in the ${store} store`, 'ms', authStart!.nodeMs[store] ?? [], authStart!.bridgeMs[store] ?? [], '≤ 1.6× node -e 0', (n, b) => b / n <= 1.6);
    f.directLabel = 'node -e 0';
    figs.push(f);
  }
  if (token) {
    const p50 = pair('token_echo_p50_ms', 'static token: echo p50', 'ms', token.echo.direct.map((r) => r.p50Ms), token.echo.bridge.map((r) => r.p50Ms), '≤ direct + 0.1 ms', (d, b) => b - d <= 0.1);
    p50.note = `${signed(p50.bridge! - p50.direct!)} ms`;
    figs.push(p50);
    figs.push(pair('token_echo_p99_ms', 'static token: echo p99', 'ms', token.echo.direct.map((r) => r.p99Ms), token.echo.bridge.map((r) => r.p99Ms)));
    figs.push(bridgeOnly('token_start_ms', 'static token: start → initialize result', 'ms', token.bridgeStartMs));
  }
  if (hook) {
    // "Adds nothing measurable": within the spread of the plain bridge's own repetitions, and ≤ 0.05 ms.
    const f = pair('hook_echo_p50_ms', 'echo p50 with a policy that never applies', 'ms', hook.plainP50Ms, hook.hookedP50Ms, '≤ plain bridge + 0.05 ms', (d, b) => b - d <= 0.05);
    f.directLabel = 'plain bridge';
    f.note = `${signed(f.bridge! - f.direct!)} ms (${hook.args.join(' ')})`;
    figs.push(f);
    if (hook.hookedRelayUs.length > 0) {
      const r = pair('hook_relay_us', "the relay's work per tools/call with that policy (in-process)", 'µs', hook.plainRelayUs, hook.hookedRelayUs, '≤ plain + 50 µs', (d, b) => b - d <= 50);
      r.directLabel = 'plain relay';
      r.note = `${signed(r.bridge! - r.direct!)} µs: parse, judge, re-serialize, answer`;
      figs.push(r);
    }
  }
  if (dpop && dpop.dpopP50Ms.length > 0) {
    // The whole per-call cost of DPoP: a fresh proof from the bridge, and the lab gateway's jose check of it.
    const f = pair('dpop_echo_p50_ms', 'DPoP-bound token: echo p50', 'ms', dpop.bearerP50Ms, dpop.dpopP50Ms, '≤ Bearer bridge + 0.2 ms', (d, b) => b - d <= 0.2);
    f.directLabel = 'Bearer bridge';
    f.note = `${signed(f.bridge! - f.direct!)} ms, incl. the gateway's proof check`;
    figs.push(f);
    const h = pair('dpop_headers_us', "the bridge's auth headers per request (in-process)", 'µs', dpop.bearerHeadersUs, dpop.dpopHeadersUs, '≤ Bearer + 200 µs', (d, b) => b - d <= 200);
    h.directLabel = 'Bearer';
    h.note = `${signed(h.bridge! - h.direct!)} µs: ES256 proof with a cached key`;
    figs.push(h);
    const gw = dpop.gatewayP50Ms;
    if (gw.dpop.some(Number.isFinite)) {
      const g = pair('dpop_gateway_ms', "the gateway's own time per call (timed in the gateway)", 'ms', gw.bearer.filter(Number.isFinite), gw.dpop.filter(Number.isFinite));
      g.directLabel = 'Bearer';
      g.note = `${signed(g.bridge! - g.direct!)} ms: the proof check, and whatever else DPoP costs the gateway`;
      figs.push(g);
      // Per repetition: (DPoP − Bearer end to end) − (DPoP − Bearer in the gateway) = the bridge's and the wire's part.
      const outside = dpop.dpopP50Ms.map((d, i) => d - dpop.bearerP50Ms[i]! - (gw.dpop[i]! - gw.bearer[i]!)).filter(Number.isFinite);
      const o = bridgeOnly('dpop_outside_ms', 'DPoP outside the gateway (bridge and wire): echo p50 difference less the gateway\'s', 'ms', outside, '≤ 0.2 ms', (b) => b <= 0.2);
      figs.push(o);
    }
    for (const side of ['bridge', 'gateway'] as const) {
      const c = pair(`dpop_${side}_cpu_us`, `${side} CPU per echo call, DPoP vs Bearer`, 'µs', dpop.cpuUs.bearer[side], dpop.cpuUs.dpop[side]);
      c.directLabel = 'Bearer';
      c.note = `${signed(c.bridge! - c.direct!)} µs`;
      figs.push(c);
    }
  }
  return figs;
}

/** The figures with a target, one column per gateway: the bridge's value (ratio) and pass/FAIL. */
export function renderSummary(perGateway: { kind: string; figs: Figure[] }[]): string {
  const keys: string[] = [];
  for (const { figs } of perGateway) for (const f of figs) if (f.target && !keys.includes(f.key)) keys.push(f.key);
  const header = ['figure (target)', ...perGateway.map((g) => g.kind)];
  const rows = keys.map((key) => {
    const any = perGateway.flatMap((g) => g.figs).find((f) => f.key === key)!;
    return [
      `${any.label} (${any.target})`,
      ...perGateway.map(({ figs }) => {
        const f = figs.find((x) => x.key === key);
        if (!f) return '—';
        const rel = f.direct === undefined ? '' : f.unit === 'ms' && key.includes('echo') ? ` (${signed(f.bridge! - f.direct)})` : ` (${fmt(f.ratio)}×)`;
        return `${fmt(f.bridge)}${rel} ${f.pass === undefined ? '' : f.pass ? 'pass' : 'FAIL'}`.trim();
      }),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function sizeName(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} B`;
}

function signed(v: number): string {
  return `${v >= 0 ? '+' : ''}${fmt(v)}`;
}

/** A number for the table: 3 significant-ish digits, no exponent. */
export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  return v.toFixed(3);
}

/** The human table: figure | direct | bridge | ratio | target | pass/fail, then the repetitions. */
export function renderTable(figs: Figure[]): string {
  const header = ['figure', 'direct', 'bridge', 'ratio', 'target', 'result'];
  const rows = figs.map((f) => [
    `${f.label} (${f.unit})`,
    f.direct === undefined ? '—' : `${fmt(f.direct)}${f.directLabel ? ` (${f.directLabel})` : ''}`,
    fmt(f.bridge),
    [f.ratio === undefined || !Number.isFinite(f.ratio) ? '' : `${fmt(f.ratio)}×`, f.note ?? ''].filter(Boolean).join(' ') || '—',
    f.target || '(info)',
    f.pass === undefined ? '' : f.pass ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  out.push('', 'repetitions (each figure above is the median of these):');
  for (const f of figs) {
    const reps = (xs: number[]): string => `[${xs.map((x) => fmt(x)).join(', ')}]`;
    const direct = f.directReps.length > 0 ? `${f.directLabel ?? 'direct'} ${reps(f.directReps)}  ` : '';
    out.push(`  ${f.key}: ${direct}bridge ${reps(f.bridgeReps)}`);
  }
  return out.join('\n');
}

/** Figures with rounded numbers for the JSON. */
export function figuresForJson(figs: Figure[]): Record<string, unknown>[] {
  return figs.map((f) => ({
    ...f,
    direct: f.direct === undefined ? undefined : round(f.direct),
    bridge: f.bridge === undefined ? undefined : round(f.bridge),
    ratio: f.ratio === undefined ? undefined : round(f.ratio),
    directReps: f.directReps.map((v) => round(v)),
    bridgeReps: f.bridgeReps.map((v) => round(v)),
  }));
}
