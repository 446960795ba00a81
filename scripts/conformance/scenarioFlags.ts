/**
 * What a user would type for a conformance scenario's server: the bridge's flags and environment,
 * made from the credentials the scenario hands over (MCP_CONFORMANCE_CONTEXT). Nothing here looks
 * at the scenario's name to change the bridge's behaviour; the name only tells which kind of
 * credential the context carries (a client secret is for machine access in one scenario and for a
 * pre-registered user-facing client in another, as it would be in a user's own configuration).
 */

/** The Client ID Metadata Document URL the suite's authorization servers expect (SEP-991). */
export const CONFORMANCE_CIMD_URL = 'https://conformance-test.local/client-metadata.json';

export interface BridgeInvocation {
  args: string[];
  env: Record<string, string>;
}

type Context = Record<string, unknown> & { name?: string };

function str(ctx: Context, key: string): string {
  const v = ctx[key];
  if (typeof v !== 'string' || !v) throw new Error(`MCP_CONFORMANCE_CONTEXT has no ${key}`);
  return v;
}

/**
 * The bridge's argv (after the executable) and extra environment for one scenario.
 * writeFile stores a key or assertion in a private file and returns its path.
 */
export function bridgeInvocation(
  serverUrl: string,
  rawContext: string | undefined,
  writeFile: (name: string, text: string) => string,
): BridgeInvocation {
  // Each scenario is one bridge process; a memory store keeps scenarios from seeing each other.
  const base = [serverUrl, '--token-store', 'memory'];
  if (!rawContext) return { args: [...base, '--client-metadata-url', CONFORMANCE_CIMD_URL], env: {} };
  const ctx = JSON.parse(rawContext) as Context;
  const env: Record<string, string> = {};
  const args = [...base];
  if (typeof ctx.private_key_pem === 'string') {
    // Machine access with private_key_jwt client authentication.
    args.push('--grant', 'client-credentials', '--client-id', str(ctx, 'client_id'), '--client-key-file', writeFile('client-key.pem', ctx.private_key_pem));
  } else if (typeof ctx.idp_id_token === 'string') {
    // Enterprise-managed authorization: the platform already holds the enterprise ID token.
    env.CONFORMANCE_CLIENT_SECRET = str(ctx, 'client_secret');
    env.CONFORMANCE_ENTERPRISE_ID_TOKEN = ctx.idp_id_token;
    args.push(
      '--client-id', str(ctx, 'client_id'), '--client-secret-env', 'CONFORMANCE_CLIENT_SECRET',
      '--enterprise-idp', str(ctx, 'idp_issuer'), '--enterprise-client-id', str(ctx, 'idp_client_id'),
      '--enterprise-id-token-env', 'CONFORMANCE_ENTERPRISE_ID_TOKEN',
    );
  } else if (typeof ctx.valid_jwt === 'string') {
    // Workload identity: a platform-issued JWT, as a Kubernetes service-account token file would be.
    args.push('--grant', 'jwt-bearer', '--client-id', str(ctx, 'client_id'), '--assertion-file', writeFile('assertion.jwt', ctx.valid_jwt));
  } else if (typeof ctx.client_secret === 'string') {
    env.CONFORMANCE_CLIENT_SECRET = ctx.client_secret;
    args.push('--client-id', str(ctx, 'client_id'), '--client-secret-env', 'CONFORMANCE_CLIENT_SECRET');
    if (String(ctx.name).startsWith('auth/client-credentials')) args.push('--grant', 'client-credentials');
  } else {
    args.push('--client-metadata-url', CONFORMANCE_CIMD_URL);
  }
  return { args, env };
}
