/**
 * Entry point of the bench's gateway process: the lab gateway on 127.0.0.1 in a process of its own,
 * so neither the direct client nor the bridge shares an event loop (or a core) with it.
 * argv[2] is the auth mode (`none` | `static`; the static token comes from LAB_TOKEN) or `oauth`:
 * the whole lab, a gateway that takes JWTs from an identity provider started alongside; `oauth-dpop`:
 * the same in the lab's 'dpop' mode (DPoP-bound tokens with a proof per request, Bearer ones still taken).
 * Reports one JSON line `{"url": ...}` on fd 3 (readyPipe.ts) when listening; shuts down when stdin ends or on SIGTERM.
 * With BENCH_GATEWAY_TIMES=<file>, it times every request it handles (handlerTimes.ts) and writes them there on shutdown.
 */
import { startGateway, type GatewayAuth } from '../lab/gateway.js';
import { recordHandlerTimes } from './handlerTimes.js';
import { reportReady } from './readyPipe.js';

function authFrom(mode: string | undefined, token: string | undefined): GatewayAuth {
  if (mode === 'static') {
    if (!token) throw new Error('static auth needs LAB_TOKEN in the environment');
    return { mode: 'static', token };
  }
  return { mode: 'none' };
}

/** Access tokens outlive the run: the figure is about a valid token in the store, not a refresh. */
const OAUTH_TOKEN_TTL_S = 3600;

const timesFile = process.env.BENCH_GATEWAY_TIMES;
const times = timesFile ? recordHandlerTimes() : undefined;

const gateway =
  process.argv[2] === 'oauth' || process.argv[2] === 'oauth-dpop'
    ? await import('../lab/lab.js')
        .then(({ startLab }) => startLab({ auth: 'oauth', accessTokenTtl: OAUTH_TOKEN_TTL_S, ...(process.argv[2] === 'oauth-dpop' ? { dpop: {} } : {}) }))
        .then((lab) => ({ url: lab.gateway.url, close: () => lab.close() }))
    : await startGateway({ auth: authFrom(process.argv[2], process.env.LAB_TOKEN) });
let closing: Promise<void> | undefined;
const shutdown = (): Promise<void> => (closing ??= gateway.close().then(() => (times && timesFile ? times.save(timesFile) : undefined)));
process.stdin.on('end', () => void shutdown());
process.stdin.on('error', () => void shutdown());
process.stdin.resume();
process.on('SIGTERM', () => void shutdown());
reportReady({ url: gateway.url });
