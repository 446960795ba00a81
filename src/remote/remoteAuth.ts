import type { HttpResponse } from './httpClient.js';

/** What the remote transport needs from the sign-in machinery; implemented in src/auth. */
export interface Challenge {
  /** 401, or 403 with error="insufficient_scope". */
  status: number;
  /** The raw WWW-Authenticate header, if any. */
  wwwAuthenticate: string | null;
  /** The DPoP-Nonce header (RFC 9449 §9), if any. */
  dpopNonce?: string | null;
  /** The URL that answered (its origin is the one a DPoP nonce is remembered for). */
  url?: URL;
}

/** The request the auth headers are for: a DPoP proof names its method and URL (RFC 9449 §4.2). */
export interface RequestTarget {
  method: 'GET' | 'POST' | 'DELETE';
  url: URL;
}

export interface RemoteAuth {
  /** The Authorization header value for the next request, or undefined to send none. Fast when a valid token is cached. */
  authorizationHeader(signal?: AbortSignal): Promise<string | undefined>;
  /**
   * The auth headers for one request: Authorization, and for a DPoP-bound session a fresh DPoP
   * proof for exactly this method and URL. Empty to send none. Fast when a valid token is cached.
   */
  requestHeaders(target: RequestTarget, signal?: AbortSignal): Promise<Record<string, string>>;
  /**
   * The gateway refused a request. attempt is 1 for the first refusal of a request, 2 for the
   * refusal of its replay. Resolves when the request should be replayed (token refreshed, a
   * new sign-in completed, a DPoP nonce taken); throws AuthRequiredError / AuthRefusedError to
   * give up (loop breaker).
   */
  handleChallenge(challenge: Challenge, attempt: number, signal?: AbortSignal): Promise<void>;
}

/** The challenge a 401/403 answer carries, for handleChallenge. */
export function challengeOf(res: HttpResponse & { finalUrl: URL }): Challenge {
  const one = (v: string | string[] | undefined): string | null => (Array.isArray(v) ? (v[0] ?? null) : (v ?? null));
  return { status: res.status, wwwAuthenticate: one(res.headers['www-authenticate']), dpopNonce: one(res.headers['dpop-nonce']), url: res.finalUrl };
}
