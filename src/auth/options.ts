import type { AssertionSource } from './assertionSource.js';
import { UsageError } from '../errors.js';

/** Sign-in options, validated once by the CLI from its flags. */
export interface AuthOptions {
  /** The remote MCP gateway (Streamable HTTP endpoint). */
  serverUrl: URL;
  /** A pre-registered client id (takes priority over metadata documents and dynamic registration). */
  clientId?: string;
  /** The pre-registered client's secret, already read by the CLI from --client-secret-env. */
  clientSecret?: string;
  /** --issuer: the only authorization server a pre-registered client's secret or key may be sent to. */
  issuer?: string;
  /** Accept an authorization server other than the one the client's credentials were first used with (login --force). */
  rebindIssuer?: boolean;
  /** An https URL hosting this client's Client ID Metadata Document, used as client_id when the AS supports it. */
  clientMetadataUrl?: string;
  /** Scope to request; overrides the challenge's and the resource metadata's scopes. */
  scope?: string;
  /** RFC 8707 resource to request and to expect in the protected resource metadata (default: the canonical server URL). */
  resource?: string;
  /** Send no resource parameter (for authorization servers that reject it). */
  noResource?: boolean;
  /** Extra authorization request parameters (e.g. prompt, login_hint); never ones the flow owns. */
  authorizeParams?: Record<string, string>;
  /** Proceed when the AS metadata does not list code_challenge_methods_supported (it still gets S256). */
  assumePkceS256?: boolean;
  /** Fixed loopback callback port (default: ephemeral, or the port of a stored registration). */
  callbackPort?: number;
  /** Host name in the redirect URI; the listener always binds 127.0.0.1. */
  callbackHost?: 'localhost' | '127.0.0.1';
  /** Deadline for the whole interactive sign-in, in milliseconds (default 300000). */
  authTimeoutMs: number;
  /** Print the authorization URL instead of opening a browser. */
  noBrowser?: boolean;
  /**
   * Also accept the authorization response pasted on deps.stdin (login on a terminal, for a
   * browser on another machine); the loopback listener keeps waiting too. Never in bridge mode,
   * where stdin carries JSON-RPC.
   */
  acceptPastedRedirect?: boolean;
  /** Permit plain http endpoints that are not on loopback. */
  allowHttp?: boolean;
  /** false: never open a browser; throw AuthRequiredError when a sign-in would be needed. */
  interactive: boolean;
  /** Send the OIDC ID token as the bearer (gateways that accept only ID tokens, e.g. AgentCore with Cognito); implies scope openid. */
  useIdToken?: boolean;
  /** How to obtain tokens (default authorization-code: browser + loopback redirect). */
  grant?: GrantKind;
  /** Token endpoint for client credentials at a server without discovery metadata (https, or http on loopback). */
  tokenEndpoint?: string;
  /** Private key (PEM or JWK file, already read by the CLI) for private_key_jwt client authentication (RFC 7523). */
  clientKey?: ClientKeyMaterial;
  /** Enterprise-managed authorization (ID-JAG): the enterprise IdP whose ID token is exchanged for an identity assertion. */
  enterprise?: EnterpriseOptions;
  /**
   * DPoP (RFC 9449) sender-constrained tokens: 'auto' (default) when the authorization server
   * advertises it, 'require' (--dpop) always, 'off' (--no-dpop) never.
   */
  dpop?: DpopMode;
  /** --grant jwt-bearer: the workload's JWT (RFC 7523 §2.1), re-read whenever a new token is needed. */
  assertion?: AssertionSource;
}

/** Whether tokens are bound to a DPoP key (src/auth/dpop). */
export type DpopMode = 'auto' | 'require' | 'off';

/** The grant a profile signs in with. */
export type GrantKind = 'authorization-code' | 'device' | 'client-credentials' | 'jwt-bearer';

/** Grants that act as the machine itself (no user, no browser, no refresh token): stored under machine: keys. */
export function isMachineGrant(grant: GrantKind | string | undefined): boolean {
  return grant === 'client-credentials' || grant === 'jwt-bearer';
}

/** The text of a --client-key-file and where it came from (for messages). */
export interface ClientKeyMaterial {
  text: string;
  source: string;
}

/** Enterprise-managed authorization (MCP extension "cross-app access", ID-JAG). */
export interface EnterpriseOptions {
  /** Issuer of the enterprise identity provider. */
  issuer: string;
  /** Our client id at the enterprise IdP. */
  clientId: string;
  /** Our client secret at the enterprise IdP, if it is a confidential client. */
  clientSecret?: string;
  /** The enterprise ID token from the platform (file or environment), instead of a browser sign-in there. */
  idToken?: AssertionSource;
}

/** Default host of the loopback redirect URI (RFC 8252 §7.3 recommends the IP literal over "localhost"). */
export const DEFAULT_CALLBACK_HOST = '127.0.0.1';

/** The default deadline of an interactive sign-in. */
export const DEFAULT_AUTH_TIMEOUT_MS = 300_000;

/**
 * Authorization request parameters the flow sets itself. Letting a user override them would
 * weaken PKCE, state, the redirect or the audience binding, so they are refused outright.
 */
export const FLOW_OWNED_AUTHORIZE_PARAMS: readonly string[] = [
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'code_challenge',
  'code_challenge_method',
  'scope',
  'resource',
  'nonce',
  'request',
  'request_uri',
  'response_mode',
  'dpop_jkt',
];

/** Refuse --authorize-param entries that the flow owns (or that are malformed) with a UsageError. */
export function validateAuthorizeParams(params: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!params) return out;
  for (const [rawName, value] of Object.entries(params)) {
    const name = rawName.trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new UsageError(`--authorize-param: "${rawName}" is not a valid parameter name`, 'bad_authorize_param');
    }
    const lower = name.toLowerCase();
    if (FLOW_OWNED_AUTHORIZE_PARAMS.includes(lower)) {
      const hint =
        lower === 'scope' ? ' (use --scope)' : lower === 'resource' ? ' (use --resource or --no-resource)' : lower === 'client_id' ? ' (use --client-id)' : '';
      throw new UsageError(`--authorize-param: "${name}" is set by the sign-in flow and cannot be overridden${hint}`, 'bad_authorize_param');
    }
    if (typeof value !== 'string') {
      throw new UsageError(`--authorize-param: "${name}" needs a string value`, 'bad_authorize_param');
    }
    out[name] = value;
  }
  return out;
}
