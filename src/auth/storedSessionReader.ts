import { StoreUnavailableError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { TokenStore } from '../store/tokenStore.js';
import { parseStoredSession, type StoredSession } from './tokenSet.js';

/**
 * Read the session record under `key`. A corrupt entry (torn or tampered keychain parts, an
 * unparseable manifest) reads as "signed out" with a warning naming the entry, so the next 401
 * signs in again and the new session overwrites it; failing every request on it instead would
 * leave the bridge stuck until the user ran `logout` by hand. Other store failures (locked,
 * hung, missing) are still thrown: signing in again would not help with those. So is a corrupt
 * token file: the file store rewrites the whole document, so it cannot save a new sign-in over
 * a corrupt file either, and a browser sign-in whose result cannot be kept would repeat on every
 * request; its message says to run `cache clear`.
 */
export async function readStoredSession(store: TokenStore, key: string, log: Logger): Promise<StoredSession | undefined> {
  try {
    return parseStoredSession(await store.get(key));
  } catch (err) {
    if (!(err instanceof StoreUnavailableError) || err.code !== 'store_corrupt' || store.kind === 'file') throw err;
    log.warn(`${err.message} Treating it as signed out: the next request signs in again and replaces it.`);
    return undefined;
  }
}
