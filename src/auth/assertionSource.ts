import { readFile } from 'node:fs/promises';
import { AuthRequiredError } from '../errors.js';

/**
 * Where a platform-issued JWT comes from (a workload identity token for RFC 7523 §2.1, or an
 * enterprise ID token): a file or an environment variable, re-read every time a new token is
 * needed — Kubernetes projected service-account tokens and CI OIDC tokens are rotated in place.
 */
export interface AssertionSource {
  /** For messages: `file /var/run/…` or `environment variable NAME` (never the value). */
  readonly describe: string;
  /** The current assertion, trimmed; AuthRequiredError when it is missing or empty. */
  read(): Promise<string>;
}

/** An assertion read from a file at each use. */
export function fileAssertion(path: string, what: string): AssertionSource {
  const describe = `file ${path}`;
  return {
    describe,
    async read() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw new AuthRequiredError(`cannot read the ${what} from ${describe} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'assertion_unavailable');
      }
      return nonEmpty(text, what, describe);
    },
  };
}

/** An assertion read from an environment variable at each use. */
export function envAssertion(name: string, env: NodeJS.ProcessEnv, what: string): AssertionSource {
  const describe = `environment variable ${name}`;
  return { describe, read: async () => nonEmpty(env[name] ?? '', what, describe) };
}

function nonEmpty(text: string, what: string, describe: string): string {
  const value = text.trim();
  if (!value) throw new AuthRequiredError(`the ${what} in ${describe} is empty`, 'assertion_unavailable');
  return value;
}

/** The payload of a JWT, decoded without verification — for display (who is this) only, never for a decision. */
export function unverifiedJwtClaims(token: string | undefined): Record<string, unknown> | undefined {
  const part = token?.split('.')[1];
  if (!part || token!.split('.').length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
