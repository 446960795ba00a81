import { createRequire } from 'node:module';
import type { Clock } from '../deps.js';
import { StoreUnavailableError } from '../errors.js';
import type { StoreKind, TokenStore } from './tokenStore.js';
import { FileStore } from './fileStore.js';
import { DEFAULT_KEYCHAIN_SERVICE, KeychainStore, type KeyringBinding } from './keychainStore.js';
import { keychainAdvice } from './keyringFailure.js';
import { MemoryStore } from './memoryStore.js';
import { KeychainIndex } from './keychainIndex.js';
import { configDir, ensurePrivateDir } from './paths.js';

export interface OpenStoreOptions {
  env: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Keychain service name (tests use an isolated one). */
  service?: string;
  /**
   * Probe the keychain now (write, read back, delete). Commands want that; the bridge skips it
   * (~100 ms on its start path) and lets the first real read report an unusable keychain.
   */
  probe?: boolean;
  /** Deadline for each keychain operation, including the probe. */
  timeoutMs?: number;
  clock?: Clock;
}

/**
 * Open the token store the user chose. The keychain is probed once (write, read back, delete a
 * probe entry) so an unusable keychain is reported now, with the fix, rather than after sign-in.
 * @napi-rs/keyring is imported only here, only for the keychain kind.
 */
export async function openStore(kind: StoreKind, opts: OpenStoreOptions): Promise<TokenStore> {
  const platform = opts.platform ?? process.platform;
  switch (kind) {
    case 'memory':
      return new MemoryStore();
    case 'file': {
      const dir = configDir(opts.env, platform);
      await ensurePrivateDir(dir);
      return new FileStore({ dir, platform, clock: opts.clock });
    }
    case 'keychain': {
      const keyring = await loadKeyring(platform);
      const service = opts.service ?? DEFAULT_KEYCHAIN_SERVICE;
      const store = new KeychainStore({
        keyring,
        service,
        timeoutMs: opts.timeoutMs,
        platform,
        clock: opts.clock,
        index: new KeychainIndex(configDir(opts.env, platform), service),
      });
      if (opts.probe !== false) await store.probe();
      return store;
    }
  }
}

async function loadKeyring(platform: NodeJS.Platform): Promise<KeyringBinding> {
  try {
    // require, not import(): the package is CommonJS, and import() would first scan its source
    // for export names (cjs-module-lexer, ~2 ms at start) that require does not need.
    const module = createRequire(import.meta.url)('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
    return { AsyncEntry: module.AsyncEntry, findCredentialsAsync: module.findCredentialsAsync };
  } catch (error) {
    throw new StoreUnavailableError(
      `The keychain module (@napi-rs/keyring) could not be loaded on ${platform}/${process.arch} (${(error as Error).message}). Reinstall mcp-keybridge, ${keychainAdvice(platform).start}, or choose \`--token-store file\`.`,
      'store_missing',
      error,
    );
  }
}
