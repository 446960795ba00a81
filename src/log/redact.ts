/**
 * Central redaction: every line the logger writes passes through here.
 * Two layers: exact secrets registered at run time (tokens we received, header values from
 * --header, client secrets) and shapes that look like credentials (JWTs, Bearer values,
 * long opaque strings in token-ish query or JSON fields).
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** Register an exact value that must never be printed. Short values are ignored (too many false hits). */
  addSecret(value: string | undefined | null): void {
    if (value && value.length >= 6) this.secrets.add(value);
  }

  /** Mask registered secrets and token-shaped strings. */
  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) {
      if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    }
    return redactShapes(out);
  }
}

const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]{16,}/gi;
const SENSITIVE_PARAM =
  /\b(access_token|refresh_token|id_token|code|code_verifier|client_secret|client_assertion|assertion|subject_token|device_code|password)=([^&\s"']+)/gi;
const SENSITIVE_JSON =
  /"(access_token|refresh_token|id_token|code|code_verifier|client_secret|client_assertion|assertion|subject_token|device_code|password|accessToken|refreshToken|idToken|authorization)"\s*:\s*"([^"]*)"/gi;

/** Mask strings that look like credentials, whatever their origin. */
export function redactShapes(text: string): string {
  return text
    .replace(JWT, '[REDACTED_JWT]')
    .replace(BEARER, (_m, scheme: string) => `${scheme} [REDACTED]`)
    .replace(SENSITIVE_PARAM, (_m, k: string) => `${k}=[REDACTED]`)
    .replace(SENSITIVE_JSON, (_m, k: string) => `"${k}":"[REDACTED]"`);
}
