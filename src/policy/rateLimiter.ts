import { globToRegExp } from './glob.js';

/** A --max-calls-per-minute rule: N for all calls, or GLOB=N for matching tools. */
export interface RateRule {
  glob?: string;
  perMinute: number;
}

/** Parse "N" or "GLOB=N". */
export function parseRateRule(text: string): RateRule | undefined {
  const eq = text.lastIndexOf('=');
  const glob = eq > 0 ? text.slice(0, eq) : undefined;
  const n = Number(eq > 0 ? text.slice(eq + 1) : text);
  if (!Number.isInteger(n) || n < 1) return undefined;
  return { glob, perMinute: n };
}

const WINDOW_MS = 60_000;

/** Sliding one-minute windows, one per rule; a call counts against every rule it matches. */
export class RateLimiter {
  private readonly rules: { rule: RateRule; re?: RegExp; stamps: number[] }[];

  constructor(rules: RateRule[]) {
    this.rules = rules.map((rule) => ({ rule, re: rule.glob ? globToRegExp(rule.glob) : undefined, stamps: [] }));
  }

  /** Record a call at `now` if every matching rule has room; otherwise name the rule that is full. */
  take(tool: string, now: number): { limitedBy: string } | undefined {
    const matching = this.rules.filter((r) => !r.re || r.re.test(tool));
    for (const r of matching) {
      while (r.stamps.length > 0 && r.stamps[0]! <= now - WINDOW_MS) r.stamps.shift();
      if (r.stamps.length >= r.rule.perMinute) {
        return { limitedBy: `--max-calls-per-minute ${r.rule.glob ? `${r.rule.glob}=` : ''}${r.rule.perMinute}` };
      }
    }
    for (const r of matching) r.stamps.push(now);
    return undefined;
  }
}
