/** Exit codes, documented in the README: 0 ok, 1 failure, 2 usage, 4 sign-in required. */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  AuthRequired: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base of every error the tool raises on purpose: an actionable message and an exit code. */
export class KeybridgeError extends Error {
  readonly exitCode: ExitCode;
  /** Machine-readable code, stable across releases (used by tests and `--json` output). */
  readonly code: string;
  constructor(message: string, opts: { exitCode?: ExitCode; code: string; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? ExitCode.Failure;
    this.code = opts.code;
  }
}

/** Bad flags or arguments. */
export class UsageError extends KeybridgeError {
  constructor(message: string, code = 'usage') {
    super(message, { exitCode: ExitCode.Usage, code });
  }
}

/** No usable session and an interactive sign-in is not possible or was declined. */
export class AuthRequiredError extends KeybridgeError {
  constructor(message: string, code = 'auth_required', cause?: unknown) {
    super(message, { exitCode: ExitCode.AuthRequired, code, cause });
  }
}

/** The identity provider or the gateway refused (bad metadata, error= on callback, invalid_client...). */
export class AuthRefusedError extends KeybridgeError {
  constructor(message: string, code = 'auth_refused', cause?: unknown) {
    super(message, { exitCode: ExitCode.Failure, code, cause });
  }
}

/** The remote gateway cannot be reached or answered with an error that is not about auth. */
export class RemoteUnavailableError extends KeybridgeError {
  readonly status?: number;
  /** Node's error code when the exchange failed at the network level. */
  networkCode?: string;
  /** The failure was on a kept-alive socket the server had closed while idle. */
  reusedSocket?: boolean;
  constructor(message: string, opts: { code?: string; status?: number; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.Failure, code: opts.code ?? 'remote_unavailable', cause: opts.cause });
    this.status = opts.status;
  }
}

/** The token store (keychain, file) cannot be used. */
export class StoreUnavailableError extends KeybridgeError {
  constructor(message: string, code = 'store_unavailable', cause?: unknown) {
    super(message, { exitCode: ExitCode.Failure, code, cause });
  }
}

/** Something a server said fails validation (issuer/resource mismatch, non-https endpoint...). */
export class UnsafeServerError extends KeybridgeError {
  constructor(message: string, code = 'unsafe_server') {
    super(message, { exitCode: ExitCode.Failure, code });
  }
}
