import { AuthRefusedError } from '../errors.js';
import type { TokenStore } from '../store/tokenStore.js';

/**
 * A pre-registered client's credential (secret or private key) belongs to one authorization
 * server. The gateway names the authorization server in its 401 (RFC 9728), so a hostile or
 * compromised gateway could name its own and receive the secret — at once for client
 * credentials, after a redirect straight back for the browser flow. The issuer a credential is
 * first sent to is therefore recorded (before sending), and the credential goes nowhere else: not
 * for any grant, whatever the source of the secret (--client-secret-env, the store, a key file),
 * unless the user says so (`login --force`, or `--issuer`).
 */
export interface SecretBindingInput {
  store: TokenStore;
  /** The gateway (canonical URL). */
  server: string;
  clientId: string;
  /** The authorization server the credential is about to be sent to. */
  issuer: string;
  /** --issuer: the one authorization server the user allows; overrides what was recorded. */
  pinnedIssuer?: string;
  /** The user asked to accept a new authorization server (login --force). */
  rebind?: boolean;
  /** How to accept another issuer, for the error message (e.g. "mcp-keybridge login URL --force"). */
  howToAccept: string;
}

interface StoredBinding {
  version: 1;
  issuer: string;
}

/** Store key of the issuer a client's credential is bound to, for one gateway. */
export function secretBindingKey(server: string, clientId: string): string {
  return `issuer-binding:${server}#${new URLSearchParams({ client_id: clientId }).toString()}`;
}

/**
 * Refuse (AuthRefusedError 'issuer_changed', -32002 at the relay) when the credential belongs to
 * another issuer; otherwise record this issuer as the credential's (its first use, --issuer, or a
 * rebind the user asked for). Call it before anything carrying the credential is sent.
 */
export async function enforceSecretBinding(input: SecretBindingInput): Promise<void> {
  const key = secretBindingKey(input.server, input.clientId);
  const bound = parseBinding(await input.store.get(key));
  if (input.pinnedIssuer !== undefined) {
    if (!sameIssuer(input.issuer, input.pinnedIssuer)) {
      throw new AuthRefusedError(
        `the gateway names the authorization server ${input.issuer}, but --issuer is ${input.pinnedIssuer}: the credentials of client ${input.clientId} go only there; nothing was sent`,
        'issuer_changed',
      );
    }
  } else if (bound && !sameIssuer(bound.issuer, input.issuer) && !input.rebind) {
    throw new AuthRefusedError(
      `the gateway now names the authorization server ${input.issuer}, not ${bound.issuer} where the credentials of client ${input.clientId} were first used; nothing was sent. If you trust it, run \`${input.howToAccept}\` (or pass --issuer)`,
      'issuer_changed',
    );
  }
  if (!bound || !sameIssuer(bound.issuer, input.issuer)) {
    const record: StoredBinding = { version: 1, issuer: input.issuer };
    await input.store.set(key, record);
  }
}

function parseBinding(value: unknown): StoredBinding | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Partial<StoredBinding>;
  return v.version === 1 && typeof v.issuer === 'string' ? (v as StoredBinding) : undefined;
}

/** Issuers are compared as URLs, ignoring one trailing slash (RFC 8414 §3.3 compares exactly, so does the discovery). */
function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/$/, '') === b.replace(/\/$/, '');
}
