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

/**
 * The `prompt` to send with an authorization request for this scope. OIDC Core §11: an OpenID
 * request (scope openid) for offline_access MUST carry prompt=consent, or the provider ignores
 * offline_access (oidc-provider enforces this). The user's own prompt is kept and consent added;
 * prompt=none cannot be combined with anything (OIDC Core §3.1.2.1), so it is left alone.
 */
export function promptFor(scope: string | undefined, userPrompt: string | undefined): string | undefined {
  const list = scopes(scope);
  if (!list.includes(OFFLINE_ACCESS) || !list.includes('openid')) return userPrompt;
  const prompts = scopes(userPrompt);
  if (prompts.includes('none') || prompts.includes('consent')) return userPrompt;
  return [...prompts, 'consent'].join(' ');
}
