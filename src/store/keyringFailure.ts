import { StoreUnavailableError } from '../errors.js';

/**
 * Turning @napi-rs/keyring failures into actionable StoreUnavailableErrors.
 *
 * The binding rejects with `code: 'GenericFailure'` for every failure; the only thing telling a
 * missing Secret Service from a locked keyring is the Display text of the keyring-rs error variant
 * ("Platform failure: …", "Couldn't access platform storage: …") or the D-Bus error name inside it.
 * This file is the one place that reads those texts; the result is always a StoreUnavailableError,
 * only its code and advice differ.
 */

const LOCKED = /IsLocked|is locked|prompt was dismissed|Couldn't access platform storage|User interaction is not allowed|user canceled/i;
const MISSING =
  /Failed to connect|DBUS_SESSION_BUS_ADDRESS|autolaunch|ServiceUnknown|was not provided by any \.service files|NoDefaultStore|no secret service/i;
const TIMED_OUT = /Did not receive a reply|timed? ?out/i;

/** What to do about an unusable keychain, per platform. */
export function keychainAdvice(platform: NodeJS.Platform): { start: string; unlock: string } {
  switch (platform) {
    case 'darwin':
      return {
        start: 'make sure you are logged in to a macOS user session with a login keychain',
        unlock: 'unlock the login keychain (Keychain Access, or `security unlock-keychain`)',
      };
    case 'win32':
      return {
        start: 'make sure Windows Credential Manager is available for this user',
        unlock: 'sign in to the Windows account interactively',
      };
    default:
      return {
        start:
          'start a Secret Service provider on the session D-Bus (gnome-keyring, KWallet or KeePassXC; headless: `dbus-run-session` plus `gnome-keyring-daemon --unlock`)',
        unlock: 'unlock the keyring (log in to the desktop session, or `echo -n PASSWORD | gnome-keyring-daemon --unlock`)',
      };
  }
}

const FILE_FALLBACK = 'or choose `--token-store file` to keep tokens in a 0600 file instead';

/** Classify a binding failure during `action` (e.g. "read mcp-keybridge/<key>"). */
export function keyringFailure(action: string, error: unknown, platform: NodeJS.Platform): StoreUnavailableError {
  const detail = nativeMessage(error);
  const advice = keychainAdvice(platform);
  if (TIMED_OUT.test(detail)) {
    return new StoreUnavailableError(
      `The keychain did not answer while trying to ${action} (${detail}). It may be waiting on a prompt or hung: ${advice.unlock}, then retry; ${FILE_FALLBACK}.`,
      'store_timeout',
      error,
    );
  }
  if (LOCKED.test(detail)) {
    return new StoreUnavailableError(
      `The keychain is locked or refused access while trying to ${action} (${detail}). ${capitalise(advice.unlock)} and retry, ${FILE_FALLBACK}.`,
      'store_locked',
      error,
    );
  }
  if (MISSING.test(detail)) {
    return new StoreUnavailableError(
      `No usable keychain while trying to ${action} (${detail}). ${capitalise(advice.start)}, ${FILE_FALLBACK}.`,
      'store_missing',
      error,
    );
  }
  return new StoreUnavailableError(`The keychain failed to ${action}: ${detail}. Retry, ${FILE_FALLBACK}.`, 'store_unavailable', error);
}

/** The deadline passed before the keychain answered. */
export function keyringTimeout(action: string, timeoutMs: number, platform: NodeJS.Platform): StoreUnavailableError {
  return new StoreUnavailableError(
    `The keychain did not answer within ${timeoutMs} ms while trying to ${action}. It may be locked and waiting on a prompt, or hung: ${keychainAdvice(platform).unlock}, then retry; ${FILE_FALLBACK}.`,
    'store_timeout',
  );
}

function nativeMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
