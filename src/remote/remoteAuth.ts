/** What the remote transport needs from the sign-in machinery; implemented in src/auth. */
export interface Challenge {
  /** 401, or 403 with error="insufficient_scope". */
  status: number;
  /** The raw WWW-Authenticate header, if any. */
  wwwAuthenticate: string | null;
}

export interface RemoteAuth {
  /** The Authorization header value for the next request, or undefined to send none. Fast when a valid token is cached. */
  authorizationHeader(signal?: AbortSignal): Promise<string | undefined>;
  /**
   * The gateway refused a request. attempt is 1 for the first refusal of a request, 2 for the
   * refusal of its replay. Resolves when the request should be replayed (token refreshed, or a
   * new sign-in completed); throws AuthRequiredError / AuthRefusedError to give up (loop breaker).
   */
  handleChallenge(challenge: Challenge, attempt: number, signal?: AbortSignal): Promise<void>;
}
