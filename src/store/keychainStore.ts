import { randomUUID } from 'node:crypto';
import { accountFor, DIGEST_ACCOUNT_PREFIX, isDigestAccount, logicalKeyOf } from './keychainAccount.js';
import type { AsyncEntry, EntryOptions } from '@napi-rs/keyring';
import type { Clock } from '../deps.js';
import { StoreUnavailableError } from '../errors.js';
import type { TokenStore } from './tokenStore.js';
import type { KeychainIndex } from './keychainIndex.js';
import { sleep, withDeadline } from './deadline.js';
import { keyringFailure, keyringTimeout } from './keyringFailure.js';
import {
  MAX_PARTS,
  MANIFEST_VERSION,
  PART_MAX_CHARS,
  asciiJson,
  isReservedAccount,
  parseManifest,
  partAccount,
  probeAccount,
  sha256Hex,
  splitIntoParts,
  INLINE_MAX_CHARS,
  needsParts,
  type PartsManifest,
} from './keychainParts.js';

/** The service name entries are filed under in the OS credential store. */
export const DEFAULT_KEYCHAIN_SERVICE = 'mcp-keybridge';
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 10_000;
/** Reads of a value that does not add up before it is reported corrupt (a concurrent write settles within milliseconds). */
const TORN_READ_ATTEMPTS = 5;
/** Pause before re-reading a torn value, times the attempt number (25, 50, 75, 100 ms). */
const TORN_READ_PAUSE_MS = 25;

/** The part of @napi-rs/keyring this store uses; the loaded module satisfies it, tests may pass their own. */
export interface KeyringBinding {
  AsyncEntry: new (service: string, account: string, options?: EntryOptions | null) => Pick<
    AsyncEntry,
    'getPassword' | 'setPassword' | 'deleteCredential'
  >;
  findCredentialsAsync(service: string, target?: string | null, signal?: AbortSignal | null): Promise<Array<{ account: string; password: string }>>;
}

export interface KeychainStoreOptions {
  /** The loaded @napi-rs/keyring module (openStore imports it lazily). */
  keyring: KeyringBinding;
  /** Service name; tests use an isolated one. Default "mcp-keybridge". */
  service?: string;
  /** Deadline for each store method (all keychain calls it makes). Default 10 s. */
  timeoutMs?: number;
  platform?: NodeJS.Platform;
  clock?: Clock;
  /** Keeps the key-name hint (see KeychainIndex) up to date on set and delete. */
  index?: KeychainIndex;
}

/**
 * On Linux the binding silently falls back to the kernel keyutils keyring (in memory, gone after a
 * reboot, invisible to findCredentials) when no Secret Service answers. Pinning makes that a clear
 * error instead; the option is ignored on macOS and Windows.
 */
const ENTRY_OPTIONS: EntryOptions = { linux: { store: 'secret-service' } };

/**
 * TokenStore over the OS credential store (Secret Service, macOS Keychain, Windows Credential
 * Manager). On macOS and Linux a value (up to INLINE_MAX_CHARS) is one entry under `<key>` holding
 * {v, parts: 0, sha256, inline}. On Windows, whose entries hold 2,560 bytes, it is stored as parts
 * `<key>#part0…n-1` (each ≤ 2,560 bytes) plus a manifest under `<key>` holding {v, parts, sha256}; the manifest is written last, so a
 * half-written value reads as corrupt, never as a wrong token.
 */
export class KeychainStore implements TokenStore {
  readonly kind = 'keychain' as const;
  readonly location: string;
  readonly service: string;
  private readonly keyring: KeyringBinding;
  private readonly timeoutMs: number;
  private readonly platform: NodeJS.Platform;
  private readonly clock: Clock | undefined;
  private readonly index: KeychainIndex | undefined;

  constructor(opts: KeychainStoreOptions) {
    this.keyring = opts.keyring;
    this.service = opts.service ?? DEFAULT_KEYCHAIN_SERVICE;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_KEYCHAIN_TIMEOUT_MS;
    this.platform = opts.platform ?? process.platform;
    this.clock = opts.clock;
    this.index = opts.index;
    this.location = `${backendName(this.platform)} (service ${this.service})`;
  }

  /**
   * Read, check and decode the value stored under `key`. A write in progress (another process's,
   * or this one's) is seen as a torn value — new parts under the old manifest — so an inconsistent
   * read is retried a few times before the entry is called corrupt.
   */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    checkKey(key);
    const account = accountFor(key);
    return this.run(`read ${this.describe(key)}`, async (signal) => {
      for (let attempt = 1; ; attempt += 1) {
        const read = await this.readOnce(key, account, signal);
        if (read.torn === undefined) return read.text === undefined ? undefined : this.decode<T>(key, read.text);
        if (attempt >= TORN_READ_ATTEMPTS) throw this.corrupt(key, read.torn);
        await sleep(TORN_READ_PAUSE_MS * attempt, signal);
      }
    });
  }

  /** One pass over manifest and parts: the joined text, nothing stored, or why it does not add up. */
  private async readOnce(key: string, account: string, signal: AbortSignal): Promise<{ text?: string; torn?: string }> {
    const manifestText = await this.read(account, signal);
    if (manifestText === null) return {};
    const manifest = parseManifest(manifestText);
    // The manifest is one entry written in one call: unreadable is corrupt, not torn.
    if (manifest === undefined) throw this.corrupt(key, 'its manifest entry is not a valid parts manifest');
    if (manifest.inline !== undefined) {
      // One entry written in one call: a mismatch is damage, not a write in progress.
      if (sha256Hex(manifest.inline) !== manifest.sha256) throw this.corrupt(key, 'its value does not match its checksum');
      return { text: manifest.inline };
    }
    const parts: string[] = [];
    for (let index = 0; index < manifest.parts; index += 1) {
      const part = await this.read(partAccount(account, index), signal);
      if (part === null) return { torn: `part ${index} of ${manifest.parts} is missing` };
      parts.push(part);
    }
    const text = parts.join('');
    if (sha256Hex(text) !== manifest.sha256) {
      return { torn: 'its parts do not match the manifest checksum (a write was interrupted or another program changed them)' };
    }
    return { text };
  }

  private decode<T>(key: string, text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch {
      throw this.corrupt(key, 'its parts do not decode as JSON');
    }
  }

  /** Write parts first, then the manifest, then remove parts left over from a longer old value. */
  async set(key: string, value: unknown): Promise<void> {
    checkKey(key);
    const text = asciiJson(value);
    if (text === undefined) throw new StoreUnavailableError(`Cannot store ${this.describe(key)}: the value is not JSON-serialisable.`, 'store_bad_value');
    const inline = !needsParts(this.platform) && text.length <= INLINE_MAX_CHARS;
    const parts = inline ? [] : splitIntoParts(text);
    if (parts.length > MAX_PARTS) {
      throw new StoreUnavailableError(
        `Cannot store ${this.describe(key)}: ${text.length} characters exceed the keychain layout limit of ${MAX_PARTS * PART_MAX_CHARS}.`,
        'store_too_large',
      );
    }
    const account = accountFor(key);
    await this.run(`write ${this.describe(key)}`, async (signal) => {
      const previous = await this.readManifestLeniently(account, signal);
      for (const [index, part] of parts.entries()) await this.write(partAccount(account, index), part, signal);
      const manifest: PartsManifest = inline
        ? { v: MANIFEST_VERSION, parts: 0, sha256: sha256Hex(text), inline: text }
        : { v: MANIFEST_VERSION, parts: parts.length, sha256: sha256Hex(text) };
      if (account !== key) manifest.key = key;
      await this.write(account, JSON.stringify(manifest), signal);
      // Parts exist only after a parts-layout value: an inline value replacing an inline (or no)
      // value is the single write above.
      if (!(inline && (previous === undefined || previous.inline !== undefined))) {
        await this.deleteParts(account, parts.length, previous?.parts ?? 0, signal);
      }
    });
    await this.index?.update(key, true);
  }

  /** Delete the manifest first (so a half-finished delete reads as absent), then every part. */
  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const account = accountFor(key);
    return this.run(`delete ${this.describe(key)}`, async (signal) => {
      const previous = await this.readManifestLeniently(account, signal);
      const hadManifest = await this.remove(account, signal);
      const hadParts = await this.deleteParts(account, 0, previous?.parts ?? 0, signal);
      return hadManifest || hadParts;
    }).finally(() => this.index?.update(key, false));
  }

  /** Logical keys (manifest entries) filed under this service; parts and the probe are hidden. */
  async list(): Promise<string[]> {
    return this.run(`list the entries of service ${this.service}`, async (signal) => {
      const credentials = await this.keyring.findCredentialsAsync(this.service, null, signal);
      const keys = credentials
        .filter((c) => !isReservedAccount(c.account))
        .map((c) => logicalKeyOf(c.account, c.password))
        .filter((k): k is string => k !== undefined);
      return [...new Set(keys)].sort();
    });
  }

  /** Write, read back and delete a probe entry, so an unusable keychain is reported before any real work. */
  async probe(): Promise<void> {
    const account = probeAccount(this.service);
    await this.run(`use the keychain (probe entry ${this.service}/${account})`, async (signal) => {
      const marker = `probe-${randomUUID()}`;
      await this.write(account, marker, signal);
      const readBack = await this.read(account, signal);
      await this.remove(account, signal);
      if (readBack !== marker) {
        throw new StoreUnavailableError(
          `The keychain accepted a probe entry for service ${this.service} but returned something else when read back; choose \`--token-store file\`.`,
          'store_unavailable',
        );
      }
    });
  }

  private async readManifestLeniently(account: string, signal: AbortSignal): Promise<PartsManifest | undefined> {
    const text = await this.read(account, signal);
    return text === null ? undefined : parseManifest(text);
  }

  /** Delete parts from index `from` on: at least up to `knownCount`, then until one is absent (leftovers of an interrupted write). */
  private async deleteParts(account: string, from: number, knownCount: number, signal: AbortSignal): Promise<boolean> {
    let removedAny = false;
    for (let index = from; index < MAX_PARTS; index += 1) {
      const removed = await this.remove(partAccount(account, index), signal);
      removedAny ||= removed;
      if (!removed && index >= knownCount) break;
    }
    return removedAny;
  }

  private entry(account: string) {
    // The constructor is synchronous and, on Linux, talks to the Secret Service (~5 ms; up to the
    // binding's own ~2 s D-Bus timeout when the daemon hangs).
    return new this.keyring.AsyncEntry(this.service, account, ENTRY_OPTIONS);
  }

  private async read(account: string, signal: AbortSignal): Promise<string | null> {
    signal.throwIfAborted();
    return this.entry(account).getPassword(signal);
  }

  private async write(account: string, text: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    await this.entry(account).setPassword(text, signal);
  }

  private async remove(account: string, signal: AbortSignal): Promise<boolean> {
    signal.throwIfAborted();
    return this.entry(account).deleteCredential(signal);
  }

  /** Run one store method under the deadline, mapping binding failures to StoreUnavailableError. */
  private async run<T>(action: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(task, {
        timeoutMs: this.timeoutMs,
        clock: this.clock,
        onTimeout: () => keyringTimeout(action, this.timeoutMs, this.platform),
      });
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw keyringFailure(action, error, this.platform);
    }
  }

  private corrupt(key: string, why: string): StoreUnavailableError {
    return new StoreUnavailableError(
      `The keychain entry ${this.describe(key)} is corrupt: ${why}. Run \`mcp-keybridge logout\` (or \`mcp-keybridge cache clear\`) to remove it, then sign in again.`,
      'store_corrupt',
    );
  }

  private describe(key: string): string {
    return `${this.service}/${key}`;
  }
}

/** A sanity bound on logical keys (they are profile descriptions, not data); long ones are digested. */
const KEY_MAX_CHARS = 8_192;

function checkKey(key: string): void {
  if (key === '' || key.length > KEY_MAX_CHARS || isReservedAccount(key) || isDigestAccount(key)) {
    throw new StoreUnavailableError(
      `Invalid token store key ${JSON.stringify(key.slice(0, 80))}: keys must be 1–${KEY_MAX_CHARS} characters, must not start with "${DIGEST_ACCOUNT_PREFIX}" and must not end in "#part<N>" or "#probe".`,
      'store_bad_key',
    );
  }
}

function backendName(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'darwin':
      return 'macOS Keychain';
    case 'win32':
      return 'Windows Credential Manager';
    default:
      return 'Secret Service';
  }
}
