import { createHash } from 'node:crypto';

/**
 * Keychain account names for logical store keys. A key up to ACCOUNT_MAX_CHARS is its own account
 * name (readable in the OS keychain UI, and the layout every earlier release wrote, so existing
 * entries are still found). A longer key — a Cognito + AgentCore profile is a long gateway URL
 * plus client id plus `openid <resource-server>/<scope>` — is filed under a fixed-length digest,
 * and the readable key travels inside the value (the manifest's `key` field).
 */
export const ACCOUNT_MAX_CHARS = 200;

/** Account names of digested keys start with this; no logical key does (they start with a kind, e.g. "session:"). */
export const DIGEST_ACCOUNT_PREFIX = 'sha256:';

/** The account name a logical key is stored under. */
export function accountFor(key: string): string {
  if (key.length <= ACCOUNT_MAX_CHARS && !key.startsWith(DIGEST_ACCOUNT_PREFIX)) return key;
  return `${DIGEST_ACCOUNT_PREFIX}${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** True when the account name is a digest (its logical key is inside the value). */
export function isDigestAccount(account: string): boolean {
  return account.startsWith(DIGEST_ACCOUNT_PREFIX);
}

/** The logical key a digest account's manifest text names, if it names one that hashes to it. */
export function logicalKeyOf(account: string, manifestText: string): string | undefined {
  if (!isDigestAccount(account)) return account;
  try {
    const key = (JSON.parse(manifestText) as { key?: unknown }).key;
    return typeof key === 'string' && accountFor(key) === account ? key : undefined;
  } catch {
    return undefined;
  }
}
