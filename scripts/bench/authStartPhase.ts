import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCRIPTED_BROWSER_ENV } from '../lab/scriptedBrowserEnv.js';
import { runCli } from './cliProcess.js';
import { startGatewayProcess, type GatewayProcess } from './gatewayProcess.js';
import { nodeBaselineMs, withConnection, type PhaseContext } from './phases.js';
import { echoCall } from './workloads.js';

const SCRIPTED_BROWSER = fileURLToPath(new URL('../lab/scriptedBrowser.js', import.meta.url));
const LOGIN_TIMEOUT_MS = 60_000;

/** Start with a token already in the store, per store kind: what an IDE sees on every session but the first. */
export interface AuthStartResults {
  /** Store kinds measured: `file` always, `keychain` when a session bus is present. */
  stores: string[];
  /** `node -e 0` per store, one measured right before each timed bridge (a machine whose speed drifts skews a baseline taken earlier). */
  nodeMs: Record<string, number[]>;
  bridgeMs: Record<string, number[]>;
}

/**
 * The lab in oauth mode (a gateway that takes only JWTs from its identity provider), one sign-in
 * per store kind with the scripted browser (`mcp-keybridge login`, as a user would), then fresh
 * bridges timed from spawn to the initialize result. The scripted browser logs every launch: a
 * bridge that had to sign in again would not measure a stored token, and fails the phase.
 */
export async function runAuthStartPhase(base: Omit<PhaseContext, 'gateway'>): Promise<AuthStartResults> {
  const stores = ['file', ...(process.env.DBUS_SESSION_BUS_ADDRESS ? ['keychain'] : [])];
  const out: AuthStartResults = { stores, nodeMs: {}, bridgeMs: {} };
  const gateway = await startGatewayProcess({ auth: { mode: 'oauth' }, startTimeoutMs: 60_000 });
  const root = await mkdtemp(path.join(tmpdir(), 'kb-bench-auth-'));
  try {
    for (const store of stores) {
      if (base.deadline.expired) break;
      try {
        await measureStore(base, store, gateway, root, out);
      } catch (err) {
        base.failures.push(`signed-in start (${store} store): ${(err as Error).message}`);
      }
    }
  } finally {
    await gateway.close();
    await rm(root, { recursive: true, force: true });
  }
  return out;
}

/** Sign in once into this store, then time fresh bridges that find the token there. */
async function measureStore(base: Omit<PhaseContext, 'gateway'>, store: string, gateway: GatewayProcess, root: string, out: AuthStartResults): Promise<void> {
  const { url } = gateway;
  const browserLog = path.join(root, `${store}-browser.log`);
  const env = {
    MCP_KEYBRIDGE_HOME: path.join(root, `${store}-home`),
    BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`,
    ...SCRIPTED_BROWSER_ENV,
    LAB_BROWSER_LOG: browserLog,
  };
  const storeArgs = ['--token-store', store];
  const launches = (): number => (existsSync(browserLog) ? readFileSync(browserLog, 'utf8').split('\n').filter(Boolean).length : 0);
  const ctx: PhaseContext = {
    ...base,
    gateway,
    // The last --token-store wins over one in BENCH_BRIDGE_ARGS (e.g. memory for the other phases).
    launch: { ...base.launch, bridgeArgs: [...base.launch.bridgeArgs, ...storeArgs], env: { ...base.launch.env, ...env } },
  };
  const times: number[] = [];
  const baseline: number[] = [];
  out.bridgeMs[store] = times;
  out.nodeMs[store] = baseline;
  try {
    await runCli(base.launch.binPath, ['login', url, ...storeArgs], env, LOGIN_TIMEOUT_MS);
    const signIns = launches();
    // Untimed first spawn: the page cache, and the gateway's first session with this client.
    await withConnection(ctx, 'bridge', `signed-in warm-up (${store})`, async (conn) => echoCall(conn, 'warm')());
    for (let rep = 0; rep < base.opts.reps && !base.deadline.expired; rep++) {
      base.progress(`signed-in start (${store} store) repetition ${rep + 1}/${base.opts.reps}`);
      baseline.push(await nodeBaselineMs());
      await withConnection(ctx, 'bridge', `signed-in start (${store}) repetition ${rep + 1}`, async (conn) => {
        times.push(conn.connectMs);
        await echoCall(conn, 'with the stored token')();
      });
    }
    if (launches() !== signIns) base.failures.push(`signed-in start (${store}): a bridge opened the browser; the stored token was not used`);
  } finally {
    if (store === 'keychain') {
      // The session bus may be the user's own: leave no entry for this throwaway lab behind.
      await runCli(base.launch.binPath, ['cache', 'clear', url, '--yes', ...storeArgs], env, 20_000).catch((err: unknown) =>
        base.failures.push(`removing the bench's keychain entries: ${(err as Error).message}`),
      );
    }
  }
}
