import { setTimeout as sleep } from 'node:timers/promises';
import type { Deps } from '../deps.js';
import { ExitCode } from '../errors.js';
import type { HttpClient } from '../remote/httpClient.js';
import { SocketHttpClient } from '../remote/http1/socketHttpClient.js';
import { connectRemote } from '../remote/connectRemote.js';
import { FileEraCache } from '../remote/era/eraCache.js';
import type { ProtocolChoice } from '../remote/era/eraRouter.js';
import { configDir } from '../store/paths.js';
import { messageLimits } from '../remote/messageLimits.js';
import { createProxyHttpClient, proxyConfigured } from '../remote/proxyHttpClient.js';
import type { RemoteAuth } from '../remote/remoteAuth.js';
import type { TransportChoice } from '../remote/remoteTransport.js';
import type { RelayHook } from '../policy/policyHook.js';
import { Relay } from './relay.js';
import { GcPacer } from './gcPacer.js';
import { MessageWriter } from './stdoutWriter.js';

/** Everything the bridge needs, validated at the CLI edge. */
export interface BridgeOptions {
  serverUrl: URL;
  transport: TransportChoice;
  /** Static headers (lower-cased names, expanded values). */
  headers: Record<string, string>;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Sign-in for the gateway; built lazily by the caller so the start path stays light. */
  auth?: RemoteAuth;
  /** Tool policy, rate limits and audit, when any is configured. */
  hook?: RelayHook;
  /** --max-message-size in bytes (default 64 MiB). */
  maxMessageBytes?: number;
  /** --protocol: detect the gateway's protocol era (auto, the default) or force it. */
  protocol?: ProtocolChoice;
}

/** Run the bridge until stdin ends or a signal arrives; returns the exit code. */
export async function runBridge(options: BridgeOptions, deps: Deps): Promise<number> {
  const timeouts = { connectMs: options.connectTimeoutMs, headersMs: options.requestTimeoutMs };
  const http: HttpClient = proxyConfigured(deps.env) ? await createProxyHttpClient(timeouts) : new SocketHttpClient(timeouts);
  // TCP and TLS to the gateway overlap the start's other work (the keychain, the IDE's first message).
  http.preconnect?.(options.serverUrl);
  const pacer = deps.garbage
    ? new GcPacer({
        gc: deps.garbage,
        // Measured on the bench (Node 20, SocketHttpClient): the burst of 200 × 1 MiB at 16 in
        // flight peaks at ~91 MiB with V8's own pacing. With a major above 12 MiB external it
        // peaks at 66-70 MiB, 16 MiB: ~72, 20 MiB: 72-77, 24 MiB: 71-80; the bridge's CPU per
        // 1 MiB answer at 16 in flight falls with the mark (12: 4.1-4.6 ms, 16: 3.8-4.1, 20: 3.6-3.8,
        // 24: 2.9-3.0 on a quiet run). Sequential 1 MiB answers run no major collection at all.
        everyBytes: 4 * 2 ** 20,
        majorAboveExternalBytes: 16 * 2 ** 20,
      })
    : undefined;
  const writer = new MessageWriter(deps.stdout, pacer);
  const hasStaticAuthorization = Object.keys(options.headers).includes('authorization');
  const auth = hasStaticAuthorization ? undefined : options.auth;
  // Read the stored session now, while the IDE's first message is on its way: the keychain answers
  // over D-Bus in tens of ms, which would otherwise all sit in front of the first request.
  if (auth) void auth.authorizationHeader().catch(() => undefined);
  const hook = options.hook;
  const remote = connectRemote(options.transport, {
    url: options.serverUrl,
    http,
    headers: options.headers,
    auth,
    log: deps.log,
    deliver: hook ? (raw, msg) => writer.write(hook.beforeDeliver(raw, msg)) : (raw) => writer.write(raw),
    // Large messages stream with a policy too: it needs only their envelope (the tools/list
    // answers it filters are asked for whole, see Outgoing.wholeAnswer).
    openMessage: hook?.afterStreamed
      ? async () => ({ ...(await writer.openMessage()), settled: (env) => env && hook.afterStreamed!(env) })
      : () => writer.openMessage(),
    limits: messageLimits(options.maxMessageBytes),
    sleep: (ms, signal) => sleep(ms, undefined, { signal }),
    random: Math.random,
    clock: deps.clock,
  }, { protocol: options.protocol, cache: new FileEraCache(configDir(deps.env, deps.platform, deps.homeDir)) });
  const relay = new Relay({ stdin: deps.stdin, writer, remote, log: deps.log, hook: options.hook });
  const unsubscribe = deps.onShutdownSignal((sig) => {
    deps.log.debug(`${sig}: closing the gateway session`);
    relay.stop({ reason: 'signal' });
  });
  deps.log.debug(`relaying stdio to ${options.serverUrl.href}`);
  try {
    const end = await relay.run();
    if (end.reason === 'fatal') {
      deps.log.error(end.error.message);
      return end.error.exitCode;
    }
    return ExitCode.Ok;
  } finally {
    unsubscribe();
    await http.close();
  }
}
