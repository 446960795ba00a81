import * as client from 'openid-client';
import type { Deps } from '../deps.js';
import { AuthRequiredError, KeybridgeError } from '../errors.js';
import { validateBrowserUrl } from './browser.js';
import type { CallbackServer } from './callbackServer.js';
import { grantDpopOptions, type DpopBinding } from './dpop/dpopGrant.js';
import { toAuthError } from './oauthErrors.js';
import { isOpenIdProvider, promptFor } from './offlineAccess.js';
import { validateAuthorizeParams, type AuthOptions } from './options.js';
import { readPastedRedirect } from './pastedRedirect.js';
import { canonicalServerUrl } from './profile.js';
import { detectRemoteEnvironment, systemEnvironmentProbe } from './remoteEnvironment.js';

/**
 * The scope to request (MCP authorization spec, "Scope Selection Strategy"): the user's --scope,
 * else the scope of the 401/403 challenge, else the resource metadata's scopes_supported, else none.
 */
export function chooseScope(input: { optionScope?: string; challengeScope?: string; scopesSupported?: readonly string[] }): string | undefined {
  const norm = (s: string | undefined): string | undefined => {
    const v = s?.split(/\s+/).filter(Boolean).join(' ');
    return v ? v : undefined;
  };
  return norm(input.optionScope) ?? norm(input.challengeScope) ?? norm(input.scopesSupported?.join(' '));
}

/** With --use-id-token the scope must include openid, or no ID token is issued (OIDC Core §3.1.2.1). */
export function withIdTokenScope(options: Pick<AuthOptions, 'useIdToken'>, scope: string | undefined): string | undefined {
  if (!options.useIdToken) return scope;
  const scopes = (scope ?? '').split(/\s+/).filter(Boolean);
  return scopes.includes('openid') ? scopes.join(' ') : ['openid', ...scopes].join(' ');
}

/** The RFC 8707 resource to send: --resource or the canonical server URL; none with --no-resource. */
export function chooseResource(options: Pick<AuthOptions, 'serverUrl' | 'resource' | 'noResource'>): string | undefined {
  if (options.noResource) return undefined;
  return canonicalServerUrl(options.resource ?? options.serverUrl);
}

/** What runAuthorizationCodeFlow needs. */
export interface AuthorizationCodeInput {
  config: client.Configuration;
  callback: CallbackServer;
  options: AuthOptions;
  deps: Deps;
  scope?: string;
  resource?: string;
  /** Push the request first (RFC 9126) — used when the AS offers PAR, so a stale client id fails fast. */
  usePar: boolean;
  /** Bind the tokens to this DPoP key (RFC 9449): proofs on PAR and the code exchange, dpop_jkt otherwise. */
  dpop?: DpopBinding;
  signal?: AbortSignal;
}

export type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

/**
 * The authorization code grant with PKCE S256 (OAuth 2.1 §4.1, RFC 7636) through a loopback
 * redirect: build the request, open the browser, wait for the callback, exchange the code.
 * openid-client re-checks state and, per RFC 9207, iss (required when the AS metadata says
 * authorization_response_iss_parameter_supported, compared whenever present).
 */
export async function runAuthorizationCodeFlow(input: AuthorizationCodeInput): Promise<TokenResponse> {
  const { config, callback, options, deps } = input;
  const codeVerifier = client.randomPKCECodeVerifier();
  deps.log.redactor.addSecret(codeVerifier);
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();

  const params: Record<string, string> = {
    ...validateAuthorizeParams(options.authorizeParams),
    redirect_uri: callback.redirectUri,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
  };
  if (input.scope) params.scope = input.scope;
  if (input.resource) params.resource = input.resource;
  const prompt = promptFor(input.scope, params.prompt, isOpenIdProvider(config.serverMetadata()));
  if (prompt) params.prompt = prompt;
  const dpop = await grantDpopOptions(config, input.dpop, config.serverMetadata().dpop_signing_alg_values_supported);
  // RFC 9449 §10: bind the code to the key, so only the holder of the key can redeem it (with
  // PAR the proof on the pushed request does that).
  if (input.dpop && !input.usePar) params.dpop_jkt = input.dpop.key.jkt;

  let authorizationUrl: URL;
  try {
    authorizationUrl = input.usePar ? await client.buildAuthorizationUrlWithPAR(config, params, dpop) : client.buildAuthorizationUrl(config, params);
  } catch (err) {
    throw toAuthError(err, 'authorization request');
  }
  const href = validateBrowserUrl(authorizationUrl.href, { allowHttp: options.allowHttp }).href;

  // Listen before the browser can possibly come back. The wait ends early when a pasted response wins.
  const callbackWait = new AbortController();
  const waitSignal = input.signal ? AbortSignal.any([input.signal, callbackWait.signal]) : callbackWait.signal;
  const waiting = callback.waitForCallback({ expectedState: state, timeoutMs: options.authTimeoutMs, signal: waitSignal });
  waiting.catch(() => undefined);
  let opened = false;
  if (options.noBrowser) {
    deps.log.say(`Open this URL in a browser to sign in:\n\n  ${href}\n`);
  } else {
    try {
      await deps.openBrowser(href);
      opened = true;
    } catch (err) {
      deps.log.warn(`could not open a browser (${err instanceof Error ? err.message : String(err)})`);
      deps.log.say(`Open this URL in a browser to sign in:\n\n  ${href}\n`);
    }
  }
  const remote = detectRemoteEnvironment(systemEnvironmentProbe(deps.env, deps.platform)).filter((f) => f.kind !== 'wsl');
  const pasted = options.acceptPastedRedirect
    ? readPastedRedirect({ input: deps.stdin, redirectUri: callback.redirectUri, expectedState: state, log: deps.log })
    : undefined;
  if (pasted) {
    deps.log.say(
      'If your browser is on another machine, its redirect cannot reach this one: after signing in, paste here the address the browser ended on (or its code=…&state=…) and press Enter.',
    );
  } else if (!opened || remote.length > 0) {
    deps.log.say(`${remoteSignInHint(options)}\n`);
  }
  let callbackUrl: URL;
  try {
    callbackUrl = await (pasted ? Promise.race([waiting, pasted.result]) : waiting);
  } catch (err) {
    // The bridge has no terminal: its error (on stderr and in the JSON-RPC error) names the command that can finish a remote sign-in.
    if (!pasted && err instanceof KeybridgeError && err.code === 'auth_timeout') {
      throw new AuthRequiredError(`${err.message}. ${remoteSignInHint(options)}`, 'auth_timeout', err);
    }
    throw err;
  } finally {
    pasted?.stop();
    callbackWait.abort();
  }
  deps.log.redactor.addSecret(callbackUrl.searchParams.get('code'));

  try {
    return await client.authorizationCodeGrant(
      config,
      callbackUrl,
      { pkceCodeVerifier: codeVerifier, expectedState: state },
      // RFC 8707 §2.2: the resource goes on the token request too, so the token's audience is bound.
      input.resource ? { resource: input.resource } : undefined,
      dpop,
    );
  } catch (err) {
    throw toAuthError(err, 'authorization code exchange');
  }
}

/** For a sign-in that cannot prompt (the bridge): the command that signs in from a remote machine. */
export function remoteSignInHint(options: Pick<AuthOptions, 'serverUrl'>): string {
  return (
    'If the browser is on another machine (SSH, a container, a remote IDE), run ' +
    `\`mcp-keybridge login ${options.serverUrl.href} --no-browser\` in a terminal there, with the same profile flags as the bridge, ` +
    'and paste back the address the browser ends on'
  );
}
