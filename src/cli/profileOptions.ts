import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { isLoopbackHost } from '../auth/endpointPolicy.js';
import { DEFAULT_AUTH_TIMEOUT_MS, validateAuthorizeParams, type AuthOptions, type ClientKeyMaterial, type EnterpriseOptions, type GrantKind } from '../auth/options.js';
import { envAssertion, fileAssertion, type AssertionSource } from '../auth/assertionSource.js';
import { UsageError } from '../errors.js';
import type { StoreKind } from '../store/tokenStore.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * The server-profile flags: every command that addresses a stored session takes the same ones,
 * so `login`, the bridge, `status` and `revoke` agree on which session they mean.
 */
export function addProfileOptions(cmd: Command): Command {
  return cmd
    .option('--client-id <id>', 'a pre-registered OAuth client id (otherwise dynamic registration)')
    .option('--client-secret-env <VAR>', 'read the client secret of a confidential client from this environment variable')
    .option('--issuer <url>', 'the only authorization server the --client-id secret or key may be sent to (default: the one it was first used with)')
    .option('--client-metadata-url <url>', 'https URL of this client\'s Client ID Metadata Document')
    .option('--scope <scopes>', 'scopes to request (space-separated); default: what the gateway asks for')
    .option('--resource <uri>', 'RFC 8707 resource to request (default: the gateway URL)')
    .option('--no-resource', 'send no resource parameter (Entra ID, Cognito)')
    .option('--authorize-param <key=value>', 'extra authorization request parameter, e.g. audience=… (repeatable)', collect)
    .option('--assume-pkce-s256', 'proceed when the server does not advertise PKCE S256 (Cognito)')
    .option('--callback-port <port>', 'fixed loopback port for the sign-in callback (default: any free port)')
    .addOption(new Option('--callback-host <host>', 'host name in the redirect URI').choices(['127.0.0.1', 'localhost']))
    .option('--auth-timeout <seconds>', 'how long to wait for the browser sign-in', String(DEFAULT_AUTH_TIMEOUT_MS / 1000))
    .option('--no-browser', 'print the sign-in URL instead of opening a browser')
    .option('--use-id-token', 'send the OIDC ID token as the bearer instead of the access token (AgentCore with Cognito); requests openid')
    .option('--dpop', 'bind the tokens to a key in the keychain (DPoP, RFC 9449) even if the server does not advertise it (default: when it does)')
    .option('--no-dpop', 'never ask for DPoP-bound tokens (Bearer only)')
    .addOption(
      new Option('--grant <kind>', 'how to get tokens: browser sign-in, device code (RFC 8628), client credentials (machine access, no user), or jwt-bearer (a workload JWT, RFC 7523)')
        .choices(['authorization-code', 'device', 'client-credentials', 'jwt-bearer'])
        .default('authorization-code'),
    )
    .option('--token-endpoint <url>', 'token endpoint for --grant client-credentials at a server without discovery metadata (https or loopback)')
    .option('--client-key-file <file>', 'private key (PEM or JWK) for private_key_jwt client authentication (RFC 7523), instead of a secret')
    .option('--enterprise-idp <issuer>', 'enterprise-managed authorization: sign in at this enterprise IdP and exchange its ID token for an ID-JAG (cross-app access)')
    .option('--enterprise-client-id <id>', 'this client\'s id at the --enterprise-idp')
    .option('--enterprise-client-secret-env <VAR>', 'read the client secret at the --enterprise-idp from this environment variable')
    .option('--enterprise-id-token-file <file>', 'the enterprise ID token from your platform, re-read at each sign-in (no browser at the --enterprise-idp)')
    .option('--enterprise-id-token-env <VAR>', 'the enterprise ID token from this environment variable (no browser at the --enterprise-idp)')
    .option('--assertion-file <file>', 'with --grant jwt-bearer: the workload JWT (e.g. a Kubernetes service-account token), re-read whenever a new token is needed')
    .option('--assertion-env <VAR>', 'with --grant jwt-bearer: the workload JWT from this environment variable')
    .addOption(
      new Option('--token-store <kind>', 'where tokens live; file is a 0600 plaintext file (explicit opt-in)')
        .choices(['keychain', 'file', 'memory'])
        .default('keychain'),
    );
}

/** The raw commander values of the profile flags. */
export interface RawProfileFlags {
  clientId?: string;
  clientSecretEnv?: string;
  issuer?: string;
  clientMetadataUrl?: string;
  scope?: string;
  resource?: string | false;
  authorizeParam?: string[];
  assumePkceS256?: boolean;
  callbackPort?: string;
  callbackHost?: '127.0.0.1' | 'localhost';
  authTimeout: string;
  browser: boolean;
  tokenStore: StoreKind;
  allowHttp?: boolean;
  useIdToken?: boolean;
  /** true: --dpop, false: --no-dpop, undefined: neither (auto). */
  dpop?: boolean;
  grant?: GrantKind;
  tokenEndpoint?: string;
  clientKeyFile?: string;
  enterpriseIdp?: string;
  enterpriseClientId?: string;
  enterpriseClientSecretEnv?: string;
  enterpriseIdTokenFile?: string;
  enterpriseIdTokenEnv?: string;
  assertionFile?: string;
  assertionEnv?: string;
}

/** Validate the profile flags once into typed AuthOptions plus the chosen store. */
export function toAuthOptions(
  serverUrl: URL,
  flags: RawProfileFlags,
  env: NodeJS.ProcessEnv,
  interactive: boolean,
): { auth: AuthOptions; storeKind: StoreKind } {
  let clientSecret: string | undefined;
  if (flags.clientSecretEnv) {
    if (!flags.clientId) throw new UsageError('--client-secret-env needs --client-id');
    clientSecret = env[flags.clientSecretEnv];
    if (!clientSecret) throw new UsageError(`--client-secret-env ${flags.clientSecretEnv}: that environment variable is not set`);
  }
  if (flags.clientMetadataUrl) {
    let u: URL;
    try {
      u = new URL(flags.clientMetadataUrl);
    } catch {
      throw new UsageError('--client-metadata-url must be an https URL');
    }
    if (u.protocol !== 'https:' || u.pathname === '/') throw new UsageError('--client-metadata-url must be an https URL with a path (the spec requires one)');
  }
  const params: Record<string, string> = {};
  for (const kv of flags.authorizeParam ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--authorize-param takes key=value, got "${kv}"`);
    params[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  let callbackPort: number | undefined;
  if (flags.callbackPort !== undefined) {
    callbackPort = Number(flags.callbackPort);
    if (!Number.isInteger(callbackPort) || callbackPort < 1 || callbackPort > 65535) throw new UsageError('--callback-port takes a port number 1-65535');
  }
  const timeout = Number(flags.authTimeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError('--auth-timeout takes a positive number of seconds');
  if (typeof flags.resource === 'string') {
    try {
      new URL(flags.resource);
    } catch {
      throw new UsageError('--resource must be an absolute URI');
    }
  }
  const grant = flags.grant ?? 'authorization-code';
  const clientKey = flags.clientKeyFile === undefined ? undefined : readClientKeyFile(flags.clientKeyFile, flags.clientId);
  const tokenEndpoint = flags.tokenEndpoint === undefined ? undefined : checkTokenEndpointFlag(flags.tokenEndpoint, grant);
  if (clientKey && clientSecret) throw new UsageError('--client-key-file and --client-secret-env are two ways to authenticate the client; pass one');
  const enterprise = enterpriseOptions(flags, env, grant);
  const assertion = assertionOption(flags, env, grant);
  if (flags.dpop === true && flags.useIdToken) throw new UsageError('--dpop and --use-id-token do not combine: the ID token sent as the bearer cannot be DPoP-bound');
  if (grant === 'client-credentials') {
    if (!flags.clientId) throw new UsageError('--grant client-credentials needs --client-id (a confidential client registered for machine access)');
    if (flags.useIdToken) throw new UsageError('--use-id-token needs a user sign-in; client credentials carry no ID token');
  }
  return {
    storeKind: flags.tokenStore,
    auth: {
      serverUrl,
      clientId: flags.clientId,
      clientSecret,
      issuer: issuerFlag(flags.issuer),
      clientMetadataUrl: flags.clientMetadataUrl,
      scope: flags.scope,
      resource: typeof flags.resource === 'string' ? flags.resource : undefined,
      noResource: flags.resource === false,
      authorizeParams: validateAuthorizeParams(params),
      assumePkceS256: flags.assumePkceS256 === true,
      callbackPort,
      callbackHost: flags.callbackHost,
      authTimeoutMs: Math.round(timeout * 1000),
      noBrowser: flags.browser === false,
      allowHttp: flags.allowHttp === true,
      interactive,
      useIdToken: flags.useIdToken === true,
      grant,
      tokenEndpoint,
      clientKey,
      enterprise,
      assertion,
      dpop: flags.dpop === true ? 'require' : flags.dpop === false ? 'off' : 'auto',
    },
  };
}

/** --issuer: an absolute https (or loopback http) URL, compared with the issuer the gateway names. */
function issuerFlag(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--issuer must be an absolute URL, got "${raw}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError('--issuer must be an https URL');
  return raw;
}

/** --assertion-file / --assertion-env: exactly one, and only with --grant jwt-bearer (which needs one). */
function assertionOption(flags: RawProfileFlags, env: NodeJS.ProcessEnv, grant: GrantKind): AssertionSource | undefined {
  const given = [flags.assertionFile, flags.assertionEnv].filter((v) => v !== undefined);
  if (grant !== 'jwt-bearer') {
    if (given.length) throw new UsageError('--assertion-file and --assertion-env are for --grant jwt-bearer');
    return undefined;
  }
  if (!flags.clientId) throw new UsageError('--grant jwt-bearer needs --client-id (the client the workload identity is registered for)');
  if (given.length !== 1) throw new UsageError('--grant jwt-bearer needs one of --assertion-file FILE or --assertion-env VAR');
  if (flags.assertionFile !== undefined) return fileAssertion(flags.assertionFile, 'workload assertion');
  return envAssertion(flags.assertionEnv!, env, 'workload assertion');
}

/** --enterprise-idp and its client: all or nothing, and only with a --client-id at the MCP server's AS. */
function enterpriseOptions(flags: RawProfileFlags, env: NodeJS.ProcessEnv, grant: GrantKind): EnterpriseOptions | undefined {
  if (!flags.enterpriseIdp) {
    if (flags.enterpriseClientId || flags.enterpriseClientSecretEnv || flags.enterpriseIdTokenFile || flags.enterpriseIdTokenEnv) {
      throw new UsageError('--enterprise-client-id, --enterprise-client-secret-env and --enterprise-id-token-* need --enterprise-idp');
    }
    return undefined;
  }
  if (grant !== 'authorization-code') throw new UsageError('--enterprise-idp is its own way in; it does not combine with --grant');
  if (!flags.enterpriseClientId) throw new UsageError('--enterprise-idp needs --enterprise-client-id (this client at the enterprise IdP)');
  if (!flags.clientId) throw new UsageError('--enterprise-idp needs --client-id (this client at the MCP server\'s authorization server)');
  let issuer: URL;
  try {
    issuer = new URL(flags.enterpriseIdp);
  } catch {
    throw new UsageError('--enterprise-idp must be the issuer URL of the enterprise IdP');
  }
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname))) {
    throw new UsageError('--enterprise-idp must be an https URL (plain http only on a loopback host)');
  }
  let clientSecret: string | undefined;
  if (flags.enterpriseClientSecretEnv) {
    clientSecret = env[flags.enterpriseClientSecretEnv];
    if (!clientSecret) throw new UsageError(`--enterprise-client-secret-env ${flags.enterpriseClientSecretEnv}: that environment variable is not set`);
  }
  if (flags.enterpriseIdTokenFile !== undefined && flags.enterpriseIdTokenEnv !== undefined) throw new UsageError('pass one of --enterprise-id-token-file and --enterprise-id-token-env');
  const idToken =
    flags.enterpriseIdTokenFile !== undefined
      ? fileAssertion(flags.enterpriseIdTokenFile, 'enterprise ID token')
      : flags.enterpriseIdTokenEnv !== undefined
        ? envAssertion(flags.enterpriseIdTokenEnv, env, 'enterprise ID token')
        : undefined;
  return { issuer: flags.enterpriseIdp, clientId: flags.enterpriseClientId, clientSecret, idToken };
}

/** Read --client-key-file at the CLI edge (its format is checked when the key is imported). */
function readClientKeyFile(file: string, clientId: string | undefined): ClientKeyMaterial {
  if (!clientId) throw new UsageError('--client-key-file needs --client-id (the client whose public key the server knows)');
  try {
    return { text: readFileSync(file, 'utf8'), source: file };
  } catch (err) {
    throw new UsageError(`--client-key-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** --token-endpoint: only for client credentials, and only https (or http on a loopback host). */
function checkTokenEndpointFlag(raw: string, grant: GrantKind): string {
  if (grant !== 'client-credentials') throw new UsageError('--token-endpoint is only used with --grant client-credentials');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError('--token-endpoint must be an absolute https URL');
  }
  const loopbackHttp = url.protocol === 'http:' && isLoopbackHost(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) throw new UsageError('--token-endpoint must be an https URL (plain http only on a loopback host)');
  if (url.username || url.password || url.hash) throw new UsageError('--token-endpoint must not carry credentials or a fragment');
  return url.href;
}

/** A command addressing one stored profile: `<url>`, --allow-http, --debug and the profile flags. */
export function profileCommand(name: string, description: string): Command {
  return addProfileOptions(
    new Command(name)
      .description(description)
      .argument('<url>', 'the remote MCP gateway URL')
      .option('--allow-http', 'allow plain http to a non-loopback gateway or identity provider (unsafe)')
      .option('--debug', 'more detail on stderr (secrets are always masked)'),
  );
}
