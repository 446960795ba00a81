import { EXPIRY_SKEW_MS } from '../auth/authSession.js';
import type { DiscoveredServer } from '../auth/discovery.js';
import { DpopRequestAuth } from '../auth/dpop/dpopRequestAuth.js';
import { sanitizeServerText } from '../auth/oauthErrors.js';
import type { AuthOptions } from '../auth/options.js';
import { canonicalServerUrl } from '../auth/profile.js';
import { isExpired, type StoredSession } from '../auth/tokenSet.js';
import { parseBearerChallenge } from '../auth/wwwAuthenticate.js';
import type { Clock } from '../deps.js';
import { KeybridgeError } from '../errors.js';
import { describeNetworkError } from '../remote/remoteErrors.js';
import type { DoctorCheck } from './doctorCommand.js';
import { describeExpiry, formatDuration } from './statusCommand.js';

/**
 * The links of `doctor`'s chain past the gateway's first answer: what the authorization server
 * offers, the stored session, whether the gateway takes its token, and the clock.
 */

/** Clock skew beyond this fails: tokens would look expired (or valid) at the wrong time. */
const SKEW_FAIL_MS = 5 * 60_000;

/** The unauthenticated initialize doctor sends (the gateway's answer to it, and the stored token's test). */
export function initializeBody(): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-keybridge-doctor', version: '1' } },
  });
}

/** PKCE S256, a way to obtain a client id, and revocation. */
export function serverCapabilityChecks(as: DiscoveredServer, auth: AuthOptions): DoctorCheck[] {
  const md = as.metadata;
  const out: DoctorCheck[] = [];
  const methods = md.code_challenge_methods_supported;
  if (methods === undefined) {
    out.push(
      auth.assumePkceS256
        ? { name: 'PKCE', status: 'warn', detail: 'S256 not advertised; assumed because of --assume-pkce-s256' }
        : { name: 'PKCE', status: 'fail', detail: 'the server does not advertise code_challenge_methods_supported', fix: 'pass --assume-pkce-s256 only if you know it supports S256 (e.g. Cognito)' },
    );
  } else {
    out.push({ name: 'PKCE', status: 'ok', detail: 'S256 supported' });
  }
  if (auth.clientId) {
    out.push({ name: 'client', status: 'ok', detail: `pre-registered client id ${auth.clientId}` });
  } else if (auth.clientMetadataUrl && md.client_id_metadata_document_supported === true) {
    out.push({ name: 'client', status: 'ok', detail: `Client ID Metadata Document ${auth.clientMetadataUrl}` });
  } else if (md.registration_endpoint) {
    out.push({ name: 'client', status: 'ok', detail: `dynamic registration at ${md.registration_endpoint}` });
  } else {
    out.push({
      name: 'client',
      status: 'fail',
      detail: 'no registration_endpoint, and no --client-id given',
      fix: 'register a client with the identity provider (redirect URI http://127.0.0.1/…, public) and pass --client-id',
    });
  }
  out.push(
    md.revocation_endpoint
      ? { name: 'revocation endpoint', status: 'ok', detail: md.revocation_endpoint }
      : { name: 'revocation endpoint', status: 'warn', detail: 'none advertised', fix: '`mcp-keybridge revoke` can then only remove the local session' },
  );
  return out;
}

export function sessionCheck(session: StoredSession | undefined, server: string, as: DiscoveredServer | undefined, now: number): DoctorCheck {
  const name = 'stored session';
  if (!session) return { name, status: 'warn', detail: 'none', fix: `run \`mcp-keybridge login ${server}\` (the bridge would otherwise sign in on first use)` };
  if (as && session.issuer !== as.metadata.issuer) {
    return { name, status: 'warn', detail: `issued by ${session.issuer}, but the gateway now names ${as.metadata.issuer}`, fix: `run \`mcp-keybridge login --force ${server}\`` };
  }
  const expiry = describeExpiry(session.expiresAt, now);
  if (!isExpired(session, now)) {
    const soon = session.expiresAt !== undefined && session.expiresAt - EXPIRY_SKEW_MS <= now;
    return { name, status: 'ok', detail: `valid, ${expiry}${soon && session.refreshToken ? '; will be refreshed on next use' : ''}` };
  }
  if (session.refreshToken) return { name, status: 'ok', detail: `access token ${expiry}; refreshable (a refresh token is held)` };
  return { name, status: 'warn', detail: `expired (${expiry}) and no refresh token is held`, fix: `run \`mcp-keybridge login ${server}\`` };
}

/** Does the gateway accept the stored access token? An initialize with it, then the MCP session is ended. */
export async function checkTokenAccepted(url: URL, session: StoredSession, fetchFn: typeof fetch, timeoutMs: number, clock: Clock): Promise<DoctorCheck> {
  const name = 'gateway accepts the stored token';
  // The headers the bridge sends: Bearer, or DPoP with a fresh proof per request (RFC 9449).
  // One-off requests: nothing is signed ahead (proofsSignedAhead.ts).
  const auth = new DpopRequestAuth(clock, () => undefined);
  const initialize = (): Promise<Response> =>
    fetchFn(url.href, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...auth.headersFor(session, { method: 'POST', url }) },
      body: initializeBody(),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  try {
    let res = await initialize();
    await res.body?.cancel().catch(() => undefined);
    const refusal = { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), dpopNonce: res.headers.get('dpop-nonce'), url };
    if (session.dpop && auth.takeChallenge(refusal, 1, url.origin)) {
      res = await initialize();
      await res.body?.cancel().catch(() => undefined);
    }
    const mcpSession = res.headers.get('mcp-session-id');
    if (mcpSession) {
      const headers = { ...auth.headersFor(session, { method: 'DELETE', url }), 'mcp-session-id': mcpSession };
      await fetchFn(url.href, { method: 'DELETE', headers, signal: AbortSignal.timeout(timeoutMs) })
        .then((r) => r.body?.cancel())
        .catch(() => undefined);
    }
    if (res.ok) return { name, status: 'ok', detail: `HTTP ${res.status}` };
    const challenge = parseBearerChallenge(res.headers.get('www-authenticate'));
    const why = challenge?.errorDescription ?? challenge?.error ?? '';
    return {
      name,
      status: 'fail',
      detail: `HTTP ${res.status}${why ? `: ${sanitizeServerText(why, 200)}` : ''}`,
      fix: `run \`mcp-keybridge login --force ${canonicalServerUrl(url)}\`; if it persists, your account may lack access to this gateway`,
    };
  } catch (err) {
    if (err instanceof KeybridgeError) return { name, status: 'fail', detail: err.message, fix: `run \`mcp-keybridge login --force ${canonicalServerUrl(url)}\`` };
    return { name, status: 'fail', detail: describeNetworkError((err as Error).cause ?? err, url).message, fix: 'check that the gateway is up' };
  }
}

export function clockCheck(serverDate: number | undefined, localMidpoint: number | undefined): DoctorCheck {
  const name = 'clock';
  if (serverDate === undefined || localMidpoint === undefined || Number.isNaN(serverDate)) {
    return { name, status: 'skip', detail: 'the gateway sent no Date header' };
  }
  const skew = serverDate - localMidpoint;
  // The Date header has one-second resolution.
  if (Math.abs(skew) < 2_000) return { name, status: 'ok', detail: 'in step with the gateway (Date header, ±1 s)' };
  const text = `${formatDuration(skew)} ${skew > 0 ? 'behind' : 'ahead of'} the gateway`;
  if (Math.abs(skew) <= EXPIRY_SKEW_MS) return { name, status: 'ok', detail: text };
  return {
    name,
    status: Math.abs(skew) > SKEW_FAIL_MS ? 'fail' : 'warn',
    detail: text,
    fix: 'enable time synchronisation (NTP) on this machine: token expiry is judged by the local clock',
  };
}
