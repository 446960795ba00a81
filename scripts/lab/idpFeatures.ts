import { randomBytes } from 'node:crypto';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { IdpOptions } from './idp.js';
import { deviceConfirmPage, deviceInputPage, page } from './idpPages.js';

/**
 * The oidc-provider features the lab identity provider turns on, per its options: registration,
 * revocation and introspection, client credentials, DPoP, logout, the device flow, and resource
 * indicators (RFC 8707) with JWT access tokens for the lab gateway.
 */
export function labProviderFeatures(opts: IdpOptions, scopes: readonly string[], accessTokenTtl: number): NonNullable<Configuration['features']> {
  const allScopes = [...scopes];
  return {
    devInteractions: { enabled: false },
    // Open dynamic registration (RFC 7591): no initial access token.
    registration: { enabled: !opts.cognitoLike, initialAccessToken: false },
    ...(opts.cognitoLike ? { pushedAuthorizationRequests: { enabled: false } } : {}),
    registrationManagement: { enabled: !opts.cognitoLike },
    // Same rules as oidc-provider's defaults, spelled out so it does not print notices:
    // a public client may only touch its own tokens (RFC 7009 §2.1, RFC 7662 §4).
    revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
    },
    clientCredentials: { enabled: true },
    dPoP: opts.dpop
      ? { enabled: true, nonceSecret: opts.dpop.requireNonce ? randomBytes(32) : undefined, requireNonce: () => opts.dpop?.requireNonce === true }
      : { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
        ctx.body = page('Sign out', `${form}<button id="logout" type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>`);
      },
      postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
    deviceFlow: {
      enabled: opts.deviceFlow ?? true,
      userCodeInputSource: async (ctx: KoaContextWithOIDC, form: string, _out: unknown, err: unknown) => {
        ctx.body = deviceInputPage(form, err !== undefined);
      },
      userCodeConfirmSource: async (ctx: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _info: unknown, userCode: string) => {
        ctx.body = deviceConfirmPage(form, client.clientName ?? client.clientId, userCode);
      },
      successSource: async (ctx: KoaContextWithOIDC) => {
        ctx.body = page('Signed in', '<p id="device-success">Your device is signed in. You can close this page.</p>');
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => opts.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        if (resourceIndicator !== opts.resource) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        return { scope: allScopes.join(' '), audience: opts.resource, accessTokenFormat: 'jwt', accessTokenTTL: accessTokenTtl };
      },
    },
  };
}
