import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Clock } from '../deps.js';
import { formatWindow, parseRate } from './actionBudgets.js';

/** What an alert counts: calls the bridge refused (policy, budget, approval) or calls that failed. */
export const ALERT_KINDS = ['refused', 'errors'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** N events of a kind within a window. */
export interface AlertThreshold {
  kind: AlertKind;
  count: number;
  windowMs: number;
  /** Canonical text, e.g. "refused=20/5m". */
  text: string;
}

/** "refused=20/5m,errors=50/5m" → thresholds, or an error text. */
export function parseAlertOn(text: string): AlertThreshold[] | string {
  const out: AlertThreshold[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const kind = eq > 0 ? part.slice(0, eq).trim() : '';
    if (!(ALERT_KINDS as readonly string[]).includes(kind)) return `--alert-on takes KIND=N/WINDOW with KIND ${ALERT_KINDS.join(' or ')}, got "${part}"`;
    const rate = parseRate(part.slice(eq + 1));
    if (typeof rate === 'string') return `--alert-on ${part}: ${rate}`;
    out.push({ kind: kind as AlertKind, count: rate.limit, windowMs: rate.windowMs, text: `${kind}=${rate.limit}/${formatWindow(rate.windowMs)}` });
  }
  if (out.length === 0) return '--alert-on needs at least one KIND=N/WINDOW';
  return out;
}

/**
 * What the alert command reads on stdin (one JSON object). It names tools and rules, never
 * argument values or anything from the token store.
 */
export interface AlertEvent {
  event: 'alert';
  source: 'mcp-keybridge';
  kind: AlertKind;
  threshold: string;
  count: number;
  windowSeconds: number;
  server: string;
  subject: string | null;
  time: string;
  pid: number;
  /** How many of the counted events each tool had. */
  tools: Record<string, number>;
  /** How many of the counted events each rule or error reason had. */
  reasons: Record<string, number>;
}

export interface AlertMonitorOptions {
  thresholds: AlertThreshold[];
  clock: Clock;
  /** A threshold was crossed (at most once per window per threshold). */
  fire(t: AlertThreshold, counted: { tool: string; reason: string }[]): void;
}

/**
 * Sliding-window counts of refusals and errors in this bridge. When a threshold is reached it
 * fires once and starts counting afresh; it fires again only after a whole window has passed, so
 * a flood costs one alert per window.
 */
export class AlertMonitor {
  private readonly state: { t: AlertThreshold; events: { at: number; tool: string; reason: string }[]; lastFired?: number }[];

  constructor(private readonly o: AlertMonitorOptions) {
    this.state = o.thresholds.map((t) => ({ t, events: [] }));
  }

  note(kind: AlertKind, tool: string, reason: string): void {
    const now = this.o.clock.now();
    for (const s of this.state) {
      if (s.t.kind !== kind) continue;
      s.events.push({ at: now, tool, reason });
      while (s.events.length > 0 && s.events[0]!.at <= now - s.t.windowMs) s.events.shift();
      // Bounded: never more than a threshold's worth kept.
      if (s.events.length > s.t.count) s.events.splice(0, s.events.length - s.t.count);
      if (s.events.length < s.t.count) continue;
      if (s.lastFired !== undefined && now - s.lastFired < s.t.windowMs) continue;
      s.lastFired = now;
      const counted = s.events.map((e) => ({ tool: e.tool, reason: e.reason }));
      s.events = [];
      this.o.fire(s.t, counted);
    }
  }
}

/** Tally names: { echo: 3, add: 1 }. */
export function tally(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}

/** Split --alert-command on whitespace only, like $BROWSER: no shell, no quoting, no expansion. */
export function alertArgv(command: string | string[]): string[] | undefined {
  const argv = Array.isArray(command) ? command.filter((a) => a !== '') : command.split(/\s+/).filter(Boolean);
  return argv.length > 0 ? argv : undefined;
}

export type Spawn = (command: string, args: string[], options: SpawnOptions) => ChildProcess;

export interface AlertRunnerOptions {
  argv: string[];
  spawn: Spawn;
  /** The environment the command gets (the bridge's, minus the variables that hold its secrets). */
  env: NodeJS.ProcessEnv;
  /** The command is killed after this long. */
  timeoutMs: number;
  warn(message: string): void;
}

/**
 * Runs the alert command with the event as JSON on stdin; its stdout is discarded (the bridge's
 * stdout is the MCP channel), its stderr goes to our log. Every run is bounded by timeoutMs;
 * idle() waits for the runs in progress (the bridge calls it before exiting).
 */
export class AlertRunner {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly o: AlertRunnerOptions) {}

  run(event: AlertEvent): void {
    const done = this.launch(event);
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private launch(event: AlertEvent): Promise<void> {
    const [command, ...args] = this.o.argv;
    return new Promise<void>((resolve) => {
      let child: ChildProcess;
      try {
        child = this.o.spawn(command!, args, { stdio: ['pipe', 'ignore', 'pipe'], env: this.o.env, shell: false, windowsHide: true });
      } catch (err) {
        this.o.warn(`--alert-command ${command}: could not start it (${(err as Error).message})`);
        resolve();
        return;
      }
      let stderr = '';
      const timer = setTimeout(() => {
        this.o.warn(`--alert-command ${command}: still running after ${Math.round(this.o.timeoutMs / 1000)} s; stopped it`);
        child.kill('SIGKILL');
      }, this.o.timeoutMs);
      child.stderr?.on('data', (b: Buffer) => {
        if (stderr.length < 2_000) stderr += b.toString('utf8');
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        this.o.warn(`--alert-command ${command}: could not run it (${err.code ?? err.message})`);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0 && code !== null) this.o.warn(`--alert-command ${command} exited with ${code}${stderr ? `: ${stderr.trim().slice(0, 500)}` : ''}`);
        resolve();
      });
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(`${JSON.stringify(event)}\n`);
    });
  }
}
