/**
 * Soak: five bridges for one profile calling tools without pause across many access-token
 * expiries, against the lab identity provider with refresh-token rotation and reuse detection,
 * with tokens in the real keychain. Zero failed calls, one browser launch, no refresh-token reuse.
 *
 *   SOAK_SECONDS=60 (default) bash scripts/with-keyring.sh npx vitest run test/e2e/soak.test.ts
 */
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  bridge,
  connect,
  firstText,
  hasKeyringTools,
  refreshGrants,
  startOAuthLab,
  workspace,
  useFileFixtures,
} from './harness/labFleet.js';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? '60');
const TOKEN_TTL_SECONDS = 3;
const BRIDGES = 5;
/** Hard stop per bridge, whatever the clock says. */
const MAX_CALLS_PER_BRIDGE = 50_000;
const CALL_TIMEOUT_MS = 30_000;

const cleanups = useFileFixtures();

interface LoopResult {
  calls: number;
  failures: string[];
}

/** Call echo in a loop until the deadline (or the hard stop); every answer is checked. */
async function callLoop(client: Client, who: number, until: number): Promise<LoopResult> {
  const result: LoopResult = { calls: 0, failures: [] };
  while (Date.now() < until && result.calls < MAX_CALLS_PER_BRIDGE) {
    const text = `b${who}-${result.calls}`;
    result.calls++;
    try {
      const answer = await client.callTool({ name: 'echo', arguments: { text } }, undefined, { timeout: CALL_TIMEOUT_MS });
      if (firstText(answer) !== text) result.failures.push(`${text}: unexpected answer ${JSON.stringify(answer).slice(0, 200)}`);
    } catch (err) {
      result.failures.push(`${text}: ${(err as Error).message}`);
    }
  }
  return result;
}

describe.skipIf(!hasKeyringTools || !(SOAK_SECONDS > 0))('soak: five bridges across many token expiries (real keychain)', () => {
  it(
    `${BRIDGES} bridges call tools for ${SOAK_SECONDS} s with ${TOKEN_TTL_SECONDS} s access tokens: no failed call, one sign-in, no refresh-token reuse`,
    async () => {
      const lab = await startOAuthLab(cleanups, { accessTokenTtl: TOKEN_TTL_SECONDS });
      const ws = await workspace(cleanups);
      const bridges = Array.from({ length: BRIDGES }, () => bridge(cleanups, lab.gateway.url, ws));
      const clients = await Promise.all(bridges.map((b, i) => connect(cleanups, b, `soak-${i}`)));
      const grantsAtStart = refreshGrants(lab.idp);

      const started = Date.now();
      const results = await Promise.all(clients.map((c, i) => callLoop(c, i, started + SOAK_SECONDS * 1000)));
      const elapsedS = (Date.now() - started) / 1000;

      const calls = results.reduce((n, r) => n + r.calls, 0);
      const failures = results.flatMap((r) => r.failures);
      const refreshes = refreshGrants(lab.idp) - grantsAtStart;
      const expiries = Math.round(elapsedS / TOKEN_TTL_SECONDS);
      const unauthorized = lab.gateway.record.requests.filter((r) => r.status === 401).length;
      const summary =
        `soak: ${BRIDGES} bridges, ${elapsedS.toFixed(1)} s, ${calls} calls, ${failures.length} failed, ` +
        `token ttl ${TOKEN_TTL_SECONDS} s (≈${expiries} expiries), ${refreshes} refreshes, ${lab.idp.record.refreshReuse} refresh-token reuses, ` +
        `${unauthorized} gateway 401s, ${ws.launches()} browser launch(es), store keychain (private gnome-keyring)`;
      console.log(summary);
      process.stderr.write(`${summary}\n`);

      expect(failures.slice(0, 5), bridges.map((b) => b.stderr().slice(-2000)).join('\n---\n')).toEqual([]);
      expect(ws.launches()).toBe(1);
      expect(lab.idp.record.refreshReuse).toBe(0);
      expect(calls).toBeGreaterThan(0);
      // One refresh per token lifetime, shared by all five: a refresh storm would be ~one per call.
      expect(refreshes).toBeLessThanOrEqual(3 * expiries + 5);
      if (elapsedS > 2 * TOKEN_TTL_SECONDS) expect(refreshes).toBeGreaterThan(0);
    },
    SOAK_SECONDS * 1000 + 120_000,
  );
});
