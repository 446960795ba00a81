/**
 * The token store contract. Backends: keychain (default, OS credential store), file (explicit
 * opt-in, 0600), memory (tests, one-shot runs). Values are JSON records addressed by a key the
 * caller builds (see profileKey in src/auth/profile.ts); backends may split large values.
 */
export type StoreKind = 'keychain' | 'file' | 'memory';

export interface TokenStore {
  readonly kind: StoreKind;
  /** Where the data lives, for status/doctor output (e.g. "Secret Service (service mcp-keybridge)"). */
  readonly location: string;
  /** The stored JSON value, or undefined. A corrupt entry throws StoreUnavailableError with code 'store_corrupt'. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Store a JSON value, replacing any previous one. */
  set(key: string, value: unknown): Promise<void>;
  /** Remove a value; true when something was removed. */
  delete(key: string): Promise<boolean>;
  /** Every key this tool stored (enumerated from the backend, never guessed). */
  list(): Promise<string[]>;
}
