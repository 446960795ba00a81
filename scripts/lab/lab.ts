import { startGateway, type Gateway, type GatewayAuth, type GatewayOptions } from './gateway.js';
import { startIdp, type Idp, type IdpOptions } from './idp.js';

type JwtAuth = Extract<GatewayAuth, { mode: 'jwt' }>;

export interface LabOptions {
  auth?: 'oauth' | 'static' | 'none';
  staticToken?: string;
  accessTokenTtl?: number;
  legacySse?: boolean;
  gatewayPort?: number;
  idpPort?: number;
  idp?: Partial<IdpOptions>;
  gateway?: Partial<GatewayOptions>;
  /** Overrides for the gateway's jwt auth in 'oauth' mode (scopesSupported, requiredScopes, toolScopes, acceptIdToken). */
  jwt?: Partial<Omit<JwtAuth, 'mode'>>;
  /**
   * Lab mode 'dpop' (RFC 9449): the identity provider binds tokens to the proof key, the gateway
   * accepts bound tokens only with valid proofs. idpNonce / gatewayNonce: each demands its own nonce;
   * requireBound: the gateway refuses unbound (Bearer) tokens.
   */
  dpop?: { idpNonce?: boolean; gatewayNonce?: boolean; requireBound?: boolean };
}

export interface Lab {
  gateway: Gateway;
  idp?: Idp;
  close(): Promise<void>;
}

/** Default static bearer token of the 'static' lab. */
export const LAB_STATIC_TOKEN = 'lab-static-token';
/** Scopes the 'oauth' lab gateway advertises by default (RFC 9728 scopes_supported, 401 scope=). */
export const LAB_SCOPES_SUPPORTED = ['mcp:tools'];

/** Start the lab: the MCP gateway and, for 'oauth' (the default), an identity provider it trusts. */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const mode = opts.auth ?? 'oauth';
  const initialAuth: GatewayAuth =
    mode === 'static' ? { mode: 'static', token: opts.staticToken ?? LAB_STATIC_TOKEN } : { mode: 'none' };
  // The gateway listens first so its URL can be the IdP's resource indicator (audience);
  // in 'oauth' mode it refuses everyone until the jwt auth is set a few lines below.
  const gateway = await startGateway({
    ...opts.gateway,
    port: opts.gatewayPort ?? opts.gateway?.port,
    legacySse: opts.legacySse ?? opts.gateway?.legacySse,
    auth: mode === 'oauth' ? { mode: 'static', token: `unset-${Math.random()}` } : initialAuth,
  });
  if (mode !== 'oauth') {
    return { gateway, close: () => gateway.close() };
  }
  let idp: Idp;
  try {
    idp = await startIdp({
      ...opts.idp,
      port: opts.idpPort ?? opts.idp?.port,
      resource: gateway.url,
      accessTokenTtl: opts.accessTokenTtl ?? opts.idp?.accessTokenTtl,
      ...(opts.dpop ? { dpop: { requireNonce: opts.dpop.idpNonce === true } } : {}),
    });
  } catch (error) {
    await gateway.close();
    throw error;
  }
  gateway.setAuth({
    mode: 'jwt',
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: gateway.url,
    scopesSupported: LAB_SCOPES_SUPPORTED,
    ...(opts.dpop ? { dpop: { nonce: opts.dpop.gatewayNonce === true, requireBound: opts.dpop.requireBound === true } } : {}),
    ...opts.jwt,
  });
  return {
    gateway,
    idp,
    close: async () => {
      await Promise.all([gateway.close(), idp.close()]);
    },
  };
}
