/** Reading the conformance CLI's output: which scenarios exist, and whether one passed. */

export interface ScenarioOutcome {
  scenario: string;
  passed: boolean;
  /** Why it did not pass: the failing and warning checks, a timeout, or the client's own error. */
  reason: string;
}

interface Check {
  id?: string;
  status?: string;
  description?: string;
  errorMessage?: string;
}

/** Client scenario names from `conformance list --client` ("  - name [versions]" lines). */
export function parseScenarioList(text: string): string[] {
  const names: string[] = [];
  let inClient = false;
  for (const line of text.split('\n')) {
    if (/^Client scenarios/i.test(line)) inClient = true;
    else if (/^\S/.test(line)) inClient = false;
    const m = inClient ? /^\s+-\s+(\S+)/.exec(line) : null;
    if (m) names.push(m[1]!);
  }
  return names;
}

/**
 * The suite's own rule: a scenario fails on any FAILURE or WARNING check, or when the client did
 * not complete. Where the CLI exited non-zero without a failing check, its output says why.
 */
export function judge(scenario: string, code: number | null, timedOut: boolean, checks: unknown[], output: string): ScenarioOutcome {
  const bad = (checks as Check[]).filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
  const reasons = bad.map((c) => `${c.status} ${c.id}: ${(c.errorMessage ?? c.description ?? '').slice(0, 160)}`);
  if (timedOut) reasons.push('timed out');
  if (checks.length === 0) reasons.push('no checks recorded');
  if (code !== 0 && reasons.length === 0) {
    const clientError = /conformance client: (.*)/.exec(output)?.[1] ?? /CLIENT (EXITED WITH ERROR[^\n]*|TIMED OUT[^\n]*)/.exec(output)?.[0];
    reasons.push(clientError ? clientError.slice(0, 240) : `exit ${code}`);
  }
  return { scenario, passed: code === 0 && !timedOut && reasons.length === 0, reason: reasons.join('; ') };
}
