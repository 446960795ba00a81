import * as client from 'openid-client';
import { AuthRefusedError, AuthRequiredError, KeybridgeError, RemoteUnavailableError, UnsafeServerError } from '../errors.js';

/** Strip control characters (terminal escapes) and cap the length of text a server chose. */
export function sanitizeServerText(text: unknown, max = 300): string {
  const s = typeof text === 'string' ? text : String(text);
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** The OAuth error code (RFC 6749 §5.2 / §4.1.2.1) carried by an openid-client error, if any. */
export function oauthErrorCode(err: unknown): string | undefined {
  if (err instanceof client.ResponseBodyError || err instanceof client.AuthorizationResponseError) return err.error;
  // A 401 with WWW-Authenticate from the token endpoint (RFC 6749 §5.2: invalid_client with Basic auth).
  if (err instanceof client.WWWAuthenticateChallengeError) return challengeError(err);
  return undefined;
}

function challengeError(err: client.WWWAuthenticateChallengeError): string | undefined {
  const error = err.cause.find((c) => typeof c.parameters.error === 'string')?.parameters.error;
  return error ?? (err.status === 401 ? 'invalid_client' : undefined);
}

/** The HTTP status of a non-conforming response openid-client refused, if that is what err is. */
export function unexpectedStatus(err: unknown): number | undefined {
  if (err instanceof client.ClientError && err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && err.cause instanceof Response) {
    return err.cause.status;
  }
  return undefined;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

/**
 * Map an error thrown by openid-client (or fetch underneath it) to one of our typed errors,
 * keeping the OAuth error code machine-readable: code `oauth_<error>` for server answers.
 */
export function toAuthError(err: unknown, what: string): KeybridgeError {
  if (err instanceof KeybridgeError) return err;
  // openid-client wraps whatever our fetch rejected with in ClientError('something went wrong'): keep ours.
  if (err instanceof client.ClientError && err.cause instanceof KeybridgeError) return err.cause;
  if (err instanceof client.ResponseBodyError) {
    const desc = err.error_description ? `: ${sanitizeServerText(err.error_description)}` : '';
    return new AuthRefusedError(`${what}: the authorization server answered HTTP ${err.status} ${sanitizeServerText(err.error, 60)}${desc}`, `oauth_${err.error}`, err);
  }
  if (err instanceof client.AuthorizationResponseError) {
    const desc = err.error_description ? `: ${sanitizeServerText(err.error_description)}` : '';
    return new AuthRefusedError(`${what}: the authorization server refused (${sanitizeServerText(err.error, 60)})${desc}`, `oauth_${err.error}`, err);
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const code = challengeError(err) ?? 'unauthorized';
    return new AuthRefusedError(`${what}: the authorization server answered HTTP ${err.status} ${sanitizeServerText(code, 60)}`, `oauth_${sanitizeServerText(code, 60)}`, err);
  }
  if (err instanceof client.ClientError) {
    // openid-client's own message is generic ("invalid response encountered"); the check that
    // failed (e.g. an unexpected "iss", RFC 9207) is named by oauth4webapi's error in `cause`.
    const cause = err.cause instanceof Error && err.cause.message && err.cause.message !== err.message ? ` (${sanitizeServerText(err.cause.message)})` : '';
    switch (err.code) {
      case 'OAUTH_TIMEOUT':
        return new RemoteUnavailableError(`${what}: the authorization server did not answer in time`, { code: 'auth_server_unreachable', cause: err });
      case 'OAUTH_ABORT':
        return new AuthRequiredError(`${what}: cancelled`, 'auth_cancelled', err);
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      case 'OAUTH_INVALID_RESPONSE':
      case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
      case 'OAUTH_REQUEST_PROTOCOL_FORBIDDEN':
        return new UnsafeServerError(`${what}: ${err.message}${cause}`, 'oauth_invalid_response');
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM': {
        const status = unexpectedStatus(err);
        return new RemoteUnavailableError(`${what}: unexpected HTTP status ${status ?? '?'} from the authorization server`, {
          code: 'oauth_http_status',
          status,
          cause: err,
        });
      }
      default: {
        // e.g. a 401 with an empty body where JSON was expected: the status is what explains it.
        const status = err.cause instanceof Response ? ` (HTTP ${err.cause.status} from the authorization server${err.cause.status === 401 ? ': it refused this client\'s authentication' : ''})` : '';
        return new AuthRefusedError(`${what}: ${err.message}${status}`, 'oauth_client_error', err);
      }
    }
  }
  if (isAbort(err)) return new AuthRequiredError(`${what}: timed out or cancelled`, 'auth_cancelled', err);
  if (err instanceof TypeError) {
    // fetch() rejects with a TypeError for network failures (connection refused, DNS, TLS)
    return new RemoteUnavailableError(`${what}: cannot reach the authorization server (${sanitizeServerText(err.message)})`, { code: 'auth_server_unreachable', cause: err });
  }
  return new AuthRefusedError(`${what}: ${err instanceof Error ? sanitizeServerText(err.message) : 'unexpected failure'}`, 'auth_failed', err);
}
