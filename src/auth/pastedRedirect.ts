import type { ByteSource } from '../deps.js';
import { AuthRefusedError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { safeEqual } from './callbackServer.js';
import { sanitizeServerText } from './oauthErrors.js';

/**
 * Sign-in from a remote machine: the browser is elsewhere, so its redirect to the loopback
 * callback never arrives here. The user pastes the address the browser ended on (or only its
 * `code=…&state=…`) into the terminal; each line is checked for this sign-in's state, and the
 * first that matches is handed on as a callback URL built on our own redirect_uri, so
 * openid-client's authorizationCodeGrant checks state, iss and PKCE exactly as on the loopback path.
 */

/** The longest line read (a callback URL is well under 2 KiB; anything far longer is not one). */
const MAX_LINE_BYTES = 16 * 1024;
/** Pasted lines refused before the prompt gives up (the loopback listener keeps waiting). */
export const DEFAULT_MAX_PASTE_ATTEMPTS = 5;

export type PasteVerdict =
  | { kind: 'callback'; url: URL }
  | { kind: 'empty' }
  | { kind: 'unrecognised'; why: string }
  | { kind: 'wrong_state' };

/**
 * Judge one pasted line. Accepted forms: a full URL (`http://127.0.0.1:PORT/callback?code=…&state=…`),
 * its query (`?code=…&state=…` or `code=…&state=…`), or `code=… state=…` separated by spaces.
 * Only the query of what was pasted is used; the URL returned always starts with redirectUri,
 * so the redirect_uri sent on the token request is the registered one.
 */
export function judgePastedLine(line: string, opts: { redirectUri: string; expectedState: string }): PasteVerdict {
  const text = line.trim();
  if (!text) return { kind: 'empty' };
  let query: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let pasted: URL;
    try {
      pasted = new URL(text);
    } catch {
      return { kind: 'unrecognised', why: 'it is not a valid URL' };
    }
    query = pasted.search.slice(1) || pasted.hash.slice(1);
  } else {
    query = text.replace(/^[?#]/, '').split(/\s+/).filter(Boolean).join('&');
  }
  const params = new URLSearchParams(query);
  if (!params.has('code') && !params.has('error')) return { kind: 'unrecognised', why: 'it has no code (or error) parameter' };
  const state = params.get('state');
  if (state === null) return { kind: 'unrecognised', why: 'it has no state parameter' };
  if (!safeEqual(state, opts.expectedState)) return { kind: 'wrong_state' };
  const url = new URL(opts.redirectUri);
  url.search = '';
  for (const [k, v] of params) url.searchParams.append(k, v);
  return { kind: 'callback', url };
}

/** What readPastedRedirect needs. */
export interface PastedRedirectOptions {
  /** Where pasted lines come from (deps.stdin). */
  input: ByteSource;
  redirectUri: string;
  expectedState: string;
  log: Logger;
  maxAttempts?: number;
}

/** A running paste prompt: `result` settles with the first accepted callback URL; stop() detaches from the input. */
export interface PastedRedirectReader {
  readonly result: Promise<URL>;
  stop(): void;
}

/**
 * Read lines from the input until one is this sign-in's authorization response. A refused line
 * (wrong state, not a callback) says why and the prompt stays open, at most maxAttempts times;
 * then, or on an error= response with our state, `result` rejects. The end of the input leaves
 * `result` pending (the loopback callback may still arrive).
 */
export function readPastedRedirect(opts: PastedRedirectOptions): PastedRedirectReader {
  const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_PASTE_ATTEMPTS;
  let buffered = '';
  let refused = 0;
  let stopped = false;
  let resolve!: (u: URL) => void;
  let reject!: (e: Error) => void;
  const result = new Promise<URL>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => undefined);

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    opts.input.removeListener('data', onData);
    opts.input.removeListener('error', onError);
    opts.input.pause();
  };
  const onError = (): void => stop();

  const judge = (line: string): void => {
    const verdict = judgePastedLine(line, opts);
    if (verdict.kind === 'empty') return;
    if (verdict.kind === 'callback') {
      const error = verdict.url.searchParams.get('error');
      stop();
      if (error !== null) {
        const desc = verdict.url.searchParams.get('error_description');
        const text = sanitizeServerText(desc ? `${error}: ${desc}` : error);
        reject(new AuthRefusedError(`sign-in refused by the authorization server: ${text}`, `oauth_${sanitizeServerText(error, 60)}`));
      } else {
        resolve(verdict.url);
      }
      return;
    }
    refused += 1;
    const why =
      verdict.kind === 'wrong_state'
        ? 'its state does not match this sign-in (an address from an older or another sign-in?)'
        : verdict.why;
    if (refused >= maxAttempts) {
      stop();
      reject(new AuthRefusedError(`refused ${refused} pasted addresses (the last because ${why}); run the command again to start a new sign-in`, 'pasted_redirect_refused'));
      return;
    }
    opts.log.warn(`that is not this sign-in's redirect: ${why}. Paste the full address your browser ended on (${maxAttempts - refused} tries left):`);
  };

  const onData = (chunk: Buffer | string): void => {
    if (stopped) return;
    buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while (!stopped && (nl = buffered.search(/\r?\n|\r/)) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl).replace(/^(\r\n|\n|\r)/, '');
      judge(line);
    }
    if (!stopped && buffered.length > MAX_LINE_BYTES) {
      buffered = '';
      judge('this line was too long');
    }
  };

  opts.input.on('data', onData);
  opts.input.on('error', onError);
  opts.input.resume();
  return { result, stop };
}
