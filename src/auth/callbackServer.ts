import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthRefusedError, AuthRequiredError, UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { sanitizeServerText } from './oauthErrors.js';

/**
 * The loopback redirect listener of a native app (RFC 8252 §7.3, §8.3). It binds 127.0.0.1 only,
 * answers on /callback only, checks the Host header (DNS rebinding), accepts exactly one
 * response whose state matches, and lets a wrong or missing state fail only that request.
 */
export interface CallbackServer {
  /** The redirect_uri to register and send, e.g. http://127.0.0.1:53682/callback. */
  readonly redirectUri: string;
  readonly port: number;
  /**
   * Wait for one authorization response. Resolve with the full callback URL (for openid-client's authorizationCodeGrant, which checks
   * state and iss again) once a request with the expected state arrives; reject on an error
   * response with that state, the deadline, or the signal.
   */
  waitForCallback(opts: { expectedState: string; timeoutMs: number; signal?: AbortSignal }): Promise<URL>;
  close(): Promise<void>;
}

export interface CallbackServerOptions {
  /** Host name in the redirect URI; the socket is bound to 127.0.0.1 either way. */
  host: 'localhost' | '127.0.0.1';
  /** 0 or undefined for an ephemeral port. */
  port?: number;
  log: Logger;
}

export const CALLBACK_PATH = '/callback';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>' +
    escapeHtml(title) +
    '</title><style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}</style>' +
    '</head><body><h1>' +
    escapeHtml(title) +
    '</h1><p>' +
    escapeHtml(body) +
    '</p></body></html>'
  );
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // The callback URL carries the code: never leak it through a Referer.
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    connection: 'close',
  });
  res.end(html);
}

/** Constant-time comparison of two strings of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

type Outcome = { ok: true; url: URL } | { ok: false; error: Error };

/** Start the loopback listener. Throws UsageError when a fixed port is taken. */
export async function startCallbackServer(opts: CallbackServerOptions): Promise<CallbackServer> {
  let expectedState: string | undefined;
  let settle: ((o: Outcome) => void) | undefined;
  let done = false;

  const handle = (req: IncomingMessage, res: ServerResponse, port: number): void => {
    // RFC 8252 §8.3 and DNS rebinding: only answer requests addressed to our own loopback name.
    const host = (req.headers.host ?? '').toLowerCase();
    if (host !== `${opts.host}:${port}`) {
      send(res, 400, page('Bad request', 'This request was not addressed to the sign-in listener.'));
      return;
    }
    const url = new URL(req.url ?? '/', `http://${opts.host}:${port}`);
    if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
      send(res, 404, page('Not found', 'Nothing here.'));
      return;
    }
    if (done || !settle || expectedState === undefined) {
      send(res, 200, page('Nothing to do', 'This sign-in has already finished. You can close this tab.'));
      return;
    }
    const state = url.searchParams.get('state');
    if (state === null || !safeEqual(state, expectedState)) {
      // A forged or stale callback must not end the flow (it could come from any local page).
      opts.log.warn('ignored a sign-in callback with a wrong or missing state');
      send(res, 400, page('Sign-in link not recognised', 'This response does not belong to the sign-in in progress. Return to the terminal.'));
      return;
    }
    done = true;
    const error = url.searchParams.get('error');
    if (error !== null) {
      const desc = url.searchParams.get('error_description');
      const text = sanitizeServerText(desc ? `${error}: ${desc}` : error);
      send(res, 400, page('Sign-in failed', `The authorization server answered: ${text}. Return to the terminal.`));
      settle({ ok: false, error: new AuthRefusedError(`sign-in refused by the authorization server: ${text}`, `oauth_${sanitizeServerText(error, 60)}`) });
      return;
    }
    send(res, 200, page('Signed in', 'mcp-keybridge received the authorization. You can close this tab and return to the terminal.'));
    settle({ ok: true, url });
  };

  let boundPort = 0;
  const server: Server = createServer((req, res) => handle(req, res, boundPort));
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(`the callback port ${opts.port} is already in use; choose another with --callback-port`, 'callback_port_in_use')
          : err,
      );
    };
    server.once('error', onError);
    // Never 0.0.0.0: the listener must not be reachable from the network.
    server.listen({ host: '127.0.0.1', port: opts.port ?? 0, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  boundPort = (server.address() as AddressInfo).port;
  const redirectUri = `http://${opts.host}:${boundPort}${CALLBACK_PATH}`;

  const close = async (): Promise<void> => {
    done = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  const waitForCallback = (w: { expectedState: string; timeoutMs: number; signal?: AbortSignal }): Promise<URL> => {
    if (settle && !done) return Promise.reject(new Error('waitForCallback: a wait is already in progress'));
    // Re-armed for a retry (e.g. after re-registering the client): a new state, a new single use.
    expectedState = w.expectedState;
    done = false;
    return new Promise<URL>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        w.signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        cleanup();
        done = true;
        reject(new AuthRequiredError('sign-in was cancelled', 'auth_cancelled', w.signal?.reason));
      };
      const timer = setTimeout(() => {
        cleanup();
        done = true;
        reject(new AuthRequiredError(`sign-in did not complete within ${Math.round(w.timeoutMs / 1000)} s; run the command again to retry`, 'auth_timeout'));
      }, w.timeoutMs);
      timer.unref?.();
      settle = (o) => {
        cleanup();
        if (o.ok) resolve(o.url);
        else reject(o.error);
      };
      if (w.signal?.aborted) onAbort();
      else w.signal?.addEventListener('abort', onAbort, { once: true });
    });
  };

  return { redirectUri, port: boundPort, waitForCallback, close };
}
