import { AuthRefusedError, KeybridgeError } from '../errors.js';
import { sanitizeServerText } from './oauthErrors.js';

/** Split a space-separated scope string into its distinct, non-empty scopes (in order). */
export function scopeList(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(/\s+/).filter(Boolean))];
}

/**
 * The scope of a step-up authorization (MCP authorization spec, "Scope Challenge Handling";
 * RFC 6750 §3.1): the union of what the held token was granted, what the user asked for with
 * --scope, and what the 403 insufficient_scope challenge demands — so stepping up for one tool
 * never loses the permissions the other tools already use. Pure.
 */
export function stepUpScope(input: { held?: string; option?: string; demanded?: string }): string | undefined {
  const all = scopeList([input.held, input.option, input.demanded].filter(Boolean).join(' '));
  return all.length > 0 ? all.join(' ') : undefined;
}

/** The demanded scopes the held token does not carry (what the step-up is for). Pure. */
export function missingScopes(held: string | undefined, demanded: string | undefined): string[] {
  const have = new Set(scopeList(held));
  return scopeList(demanded).filter((s) => !have.has(s));
}

/** The line logged when a step-up starts. */
export function stepUpNotice(held: string | undefined, demanded: string | undefined): string {
  const more = missingScopes(held, demanded).join(' ') || demanded || 'unspecified';
  return `the gateway asks for more permission (${sanitizeServerText(more, 200)}); signing in again for it`;
}

/**
 * The error for a gateway that still answers insufficient_scope to the token of a fresh step-up:
 * names what the authorization server left out, when it did, since that is what the user can act on.
 */
export function stepUpRefused(input: { server: string; granted?: string; demanded?: string }): AuthRefusedError {
  const demanded = sanitizeServerText(input.demanded ?? '?', 200);
  const notGranted = missingScopes(input.granted, input.demanded);
  const why =
    notGranted.length > 0
      ? `the authorization server did not grant ${notGranted.map((s) => `"${sanitizeServerText(s, 100)}"`).join(', ')}`
      : 'the new token carries the scopes it asked for';
  return new AuthRefusedError(
    `the gateway ${input.server} still refuses the request after a step-up sign-in for the scope "${demanded}" (${why}); ` +
      'ask your administrator for that permission',
    'insufficient_scope',
  );
}

/**
 * Explain a step-up sign-in that did not complete: a user who pressed Cancel (access_denied)
 * declined the extra permission; other failures keep their own message.
 */
export function stepUpFailed(err: unknown, demanded: string | undefined): unknown {
  if (err instanceof KeybridgeError && (err.code === 'oauth_access_denied' || err.code === 'oauth_consent_required')) {
    return new AuthRefusedError(
      `the request needs the additional permission "${sanitizeServerText(demanded ?? '?', 200)}", and the sign-in for it was declined (${err.code.slice('oauth_'.length)}); ` +
        'the request was not sent',
      'step_up_declined',
      err,
    );
  }
  return err;
}
