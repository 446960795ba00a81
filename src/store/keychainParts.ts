import { createHash } from 'node:crypto';

/**
 * How a JSON value is laid out in a credential store with small per-entry limits.
 *
 * Windows Credential Manager caps a credential blob at 2,560 bytes and keyring-rs stores a password
 * there as UTF-16, so one part may hold at most 1,280 UTF-16 code units. The value is serialised as
 * ASCII-only JSON (non-ASCII escaped as \uXXXX, still valid JSON), so a part of PART_MAX_CHARS
 * characters is PART_MAX_CHARS bytes in UTF-8 and 2 × PART_MAX_CHARS bytes in UTF-16: under the cap
 * on every platform, and a split can never fall inside a multi-byte character.
 */
export const PART_MAX_CHARS = 1200;
/** Upper bound on parts per value (~76 KB), so a runaway value or a corrupt manifest cannot loop for long. */
export const MAX_PARTS = 64;
export const MANIFEST_VERSION = 1;

/**
 * Where the per-entry limit does not apply (macOS Keychain, Secret Service), a value up to this
 * many characters is kept inline in the entry under its key: one keychain round trip to read a
 * session instead of one per part, and a write that is a single call (never seen half done).
 */
export const INLINE_MAX_CHARS = 32 * 1024;

/** True where credential entries are small (Windows Credential Manager: 2,560 bytes). */
export function needsParts(platform: NodeJS.Platform): boolean {
  return platform === 'win32';
}

/** The entry stored under the logical key itself: the value inline, or the manifest of its parts. */
export interface PartsManifest {
  v: typeof MANIFEST_VERSION;
  /** 0 when the value is inline. */
  parts: number;
  sha256: string;
  inline?: string;
  /** The logical key, when the entry is filed under a digest account (src/store/keychainAccount.ts). */
  key?: string;
}

const PART_SUFFIX = /#part(\d+)$/;
const PROBE_SUFFIX = '#probe';

/** Account name of part `index` of `key`. */
export function partAccount(key: string, index: number): string {
  return `${key}#part${index}`;
}

/** Account name used by the availability probe; never a logical key. */
export function probeAccount(service: string): string {
  return `${service}${PROBE_SUFFIX}`;
}

/** True for account names this layout reserves (parts, probe); such names are not logical keys. */
export function isReservedAccount(account: string): boolean {
  return PART_SUFFIX.test(account) || account.endsWith(PROBE_SUFFIX);
}

/** JSON with every non-ASCII character escaped, so length in characters equals length in bytes. */
export function asciiJson(value: unknown): string | undefined {
  const json = JSON.stringify(value);
  if (json === undefined) return undefined;
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Hex SHA-256 of a string (UTF-8). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Split serialised text into parts of at most PART_MAX_CHARS characters (at least one part). */
export function splitIntoParts(text: string): string[] {
  const parts: string[] = [];
  for (let offset = 0; offset < text.length; offset += PART_MAX_CHARS) parts.push(text.slice(offset, offset + PART_MAX_CHARS));
  return parts.length === 0 ? [''] : parts;
}

/** Parse a manifest entry; undefined when it is not one this version understands. */
export function parseManifest(text: string): PartsManifest | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { v, parts, sha256, inline } = parsed as Record<string, unknown>;
  if (v !== MANIFEST_VERSION) return undefined;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  if (parts === 0 && typeof inline === 'string') return { v, parts, sha256, inline };
  if (typeof parts !== 'number' || !Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS) return undefined;
  return { v, parts, sha256 };
}
