/**
 * Refresh tokens from OpenID-flavoured authorization servers (SEP-2207, in the 2026-07-28
 * revision). Okta, Entra ID, Auth0, Keycloak, Google and oidc-provider issue a refresh token only
 * when the `offline_access` scope is granted; without it every expiry means a browser sign-in.
 */

export const OFFLINE_ACCESS = 'offline_access';

function scopes(scope: string | undefined): string[] {
  return (scope ?? '').split(/\s+/).filter(Boolean);
}

/**
 * The scope with offline_access added when the authorization server lists it in scopes_supported
 * (and only then: SEP-2207 forbids asking a server that does not list it). A refresh-capable
 * client asks for it even when the resource's scope did not name it: it is a scope of the
 * authorization server, not of the resource.
 */
export function withOfflineAccess(scope: string | undefined, asScopesSupported: readonly string[] | undefined): string | undefined {
  if (!Array.isArray(asScopesSupported) || !asScopesSupported.includes(OFFLINE_ACCESS)) return scope;
  const list = scopes(scope);
  if (list.includes(OFFLINE_ACCESS)) return scope;
  return [...list, OFFLINE_ACCESS].join(' ');
}

/** True when the authorization server is an OpenID provider (its metadata says so). */
export function isOpenIdProvider(metadata: { scopes_supported?: readonly string[]; id_token_signing_alg_values_supported?: readonly string[] }): boolean {
  return (Array.isArray(metadata.scopes_supported) && metadata.scopes_supported.includes('openid')) || Array.isArray(metadata.id_token_signing_alg_values_supported);
}

/**
 * The `prompt` to send with an authorization request for this scope. OIDC Core §11: a request for
 * offline_access MUST carry prompt=consent, or the provider ignores offline_access — and OpenID
 * providers apply that to every request they serve (oidc-provider drops offline_access without
 * it, with or without `openid` in the scope). A plain OAuth server is not sent it. The user's own
 * prompt is kept and consent added; prompt=none cannot be combined (OIDC Core §3.1.2.1).
 */
export function promptFor(scope: string | undefined, userPrompt: string | undefined, openIdProvider: boolean): string | undefined {
  if (!openIdProvider || !scopes(scope).includes(OFFLINE_ACCESS)) return userPrompt;
  const prompts = scopes(userPrompt);
  if (prompts.includes('none') || prompts.includes('consent')) return userPrompt;
  return [...prompts, 'consent'].join(' ');
}
