import { Command, Option } from 'commander';
import type { Deps } from '../deps.js';
import { UsageError } from '../errors.js';
import { runBridge, type BridgeOptions } from '../relay/bridge.js';
import type { TransportChoice } from '../remote/remoteTransport.js';
import type { ProtocolChoice } from '../remote/era/eraRouter.js';
import { lazyRemoteAuth } from '../remote/lazyRemoteAuth.js';
import { loadStaticHeaders } from './headerOptions.js';
import { addProfileOptions, toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { parseServerUrl } from './serverUrl.js';
import { addPolicyOptions, buildPolicyHook, type RawPolicyFlags } from './policyOptions.js';
import type { AuthSession } from '../auth/authSession.js';
import { keychainMayHold, openAuthSession } from './sessionFactory.js';
import { profileKeyFor } from '../auth/profile.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The flags every bridge invocation takes (also `serve`). */
export function addBridgeOptions(cmd: Command): Command {
  return addPolicyOptions(addProfileOptions(cmd))
    .addOption(
      new Option('--transport <kind>', 'remote transport').choices(['auto', 'streamable-http', 'sse']).default('auto'),
    )
    .addOption(
      new Option('--protocol <era>', 'MCP protocol era of the gateway: detect it, or force 2025 (initialize + session) or 2026 (2026-07-28, stateless)')
        .choices(['auto', '2025', '2026'])
        .default('auto'),
    )
    .option('--header <header>', 'extra HTTP header "Name: value" for the gateway (repeatable; ${VAR} expands from the environment)', collect)
    .option('--header-file <file>', 'read extra headers from a file, one "Name: value" per line')
    .option('--bearer-env <VAR>', 'send "Authorization: Bearer <value of VAR>" (a static token; no MCP client expands this into the command line)')
    .option('--header-env <Name=VAR>', 'extra header whose value is the environment variable VAR (repeatable)', collect)
    .option('--allow-http', 'allow plain http to a non-loopback gateway or identity provider (unsafe)')
    .option('--connect-timeout <seconds>', 'TCP/TLS connect deadline', '10')
    .option('--request-timeout <seconds>', 'deadline for the gateway to start answering a request', '120')
    .option('--max-message-size <MiB>', 'largest message from the gateway relayed to the IDE; a larger one fails its request', '64')
    .option('--debug', 'more detail on stderr (secrets are always masked)');
}

interface RawBridgeFlags extends RawProfileFlags, RawPolicyFlags {
  transport: TransportChoice;
  protocol: ProtocolChoice;
  header?: string[];
  headerFile?: string;
  headerEnv?: string[];
  bearerEnv?: string;
  allowHttp?: boolean;
  connectTimeout: string;
  requestTimeout: string;
  maxMessageSize: string;
  debug?: boolean;
}

/** Flags → typed BridgeOptions → the bridge. Returns the exit code. */
export async function runBridgeCommand(url: string, rawOpts: Record<string, unknown>, deps: Deps): Promise<number> {
  const flags = rawOpts as unknown as RawBridgeFlags;
  const serverUrl = parseServerUrl(url, { allowHttp: flags.allowHttp === true });
  const headers = await loadStaticHeaders({ header: flags.header, headerFile: flags.headerFile, headerEnv: flags.headerEnv, bearerEnv: flags.bearerEnv }, deps.env);
  for (const v of Object.values(headers)) deps.log.redactor.addSecret(v);
  const { auth, storeKind } = toAuthOptions(serverUrl, flags, deps.env, true);
  if (auth.clientSecret) deps.log.redactor.addSecret(auth.clientSecret);
  if (storeKind === 'file') {
    deps.log.warn('tokens are kept in a plaintext file (--token-store file), protected only by file permissions');
  }
  const shutdown = new AbortController();
  let session: AuthSession | undefined;
  const policy = await buildPolicyHook(flags, deps, {
    server: serverUrl.href,
    user: async () => {
      const current = await session?.currentSession();
      return { subject: current?.subject, label: current?.email ?? current?.subject };
    },
  });
  const options: BridgeOptions = {
    serverUrl,
    transport: flags.transport,
    protocol: flags.protocol,
    headers,
    connectTimeoutMs: seconds(flags.connectTimeout, '--connect-timeout'),
    requestTimeoutMs: seconds(flags.requestTimeout, '--request-timeout'),
    maxMessageBytes: mebibytes(flags.maxMessageSize, '--max-message-size'),
    auth: lazyRemoteAuth(async () => {
      session = (await openAuthSession(auth, storeKind, deps, { signal: shutdown.signal, probe: false })).session;
      return session;
    }, deps.log, {
      // With the keychain, a gateway we hold no session for (one that needs no token, say) never
      // loads the keychain module: the index of stored key names says so without it.
      mayHaveSession: storeKind === 'keychain' ? () => keychainMayHold(profileKeyFor(auth), deps.env) : undefined,
    }),
    hook: policy?.hook,
  };
  try {
    return await runBridge(options, deps);
  } finally {
    shutdown.abort();
    await policy?.close();
  }
}

function mebibytes(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 4096) throw new UsageError(`${flag} takes a whole number of MiB from 1 to 4096, got "${value}"`);
  return n * 1024 * 1024;
}

function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} takes a positive number of seconds, got "${value}"`);
  return Math.round(n * 1000);
}
