/**
 * WWW-Authenticate parsing (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9728 §5.1). Pure.
 *
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 * Several challenges may share one header, separated by commas, so a comma is either between
 * two params of one challenge or before a new scheme; a token not followed by "=" starts a new challenge.
 */

export interface AuthChallenge {
  /** Lower-cased auth scheme, e.g. "bearer". */
  scheme: string;
  /** Parameters with lower-cased names; the first occurrence of a name wins. */
  params: Record<string, string>;
  token68?: string;
}

/** The Bearer (or DPoP, RFC 9449 §7.1) challenge fields the sign-in flow uses. */
export interface BearerChallenge {
  resourceMetadata?: string;
  scope?: string;
  error?: string;
  errorDescription?: string;
  /** The algorithms a DPoP challenge lists (`algs`, space-separated), if it lists any. */
  dpopAlgs?: string[];
  /** The gateway challenges with DPoP and not with Bearer: it wants DPoP-bound tokens. */
  dpopOnly?: boolean;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

class Cursor {
  pos = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  skipWs(): void {
    while (!this.done && (this.peek() === ' ' || this.peek() === '\t')) this.pos++;
  }
  /** Skip whitespace and commas (empty list elements are allowed by RFC 9110 §5.6.1). */
  skipSeparators(): void {
    while (!this.done && /[ \t,]/.test(this.peek())) this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }
  quoted(): string | undefined {
    if (this.peek() !== '"') return undefined;
    this.pos++;
    let out = '';
    while (!this.done) {
      const c = this.s[this.pos++];
      if (c === '"') return out;
      if (c === '\\' && !this.done) {
        out += this.s[this.pos++];
        continue;
      }
      out += c;
    }
    return undefined; // unterminated: malformed
  }
}

/** Try to read a token68 at the cursor; restores the cursor and returns undefined when it is not one. */
function readToken68(c: Cursor): string | undefined {
  const start = c.pos;
  while (!c.done && TOKEN68_CHAR.test(c.peek())) c.pos++;
  if (c.pos === start) return undefined;
  while (!c.done && c.peek() === '=') c.pos++;
  const value = c.s.slice(start, c.pos);
  c.skipWs();
  if (c.done || c.peek() === ',') return value;
  c.pos = start;
  return undefined;
}

/** Parse every challenge of a WWW-Authenticate header value. Malformed tails are dropped, never thrown. */
export function parseWwwAuthenticate(header: string | null | undefined): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  if (!header) return challenges;
  const c = new Cursor(header);
  let current: AuthChallenge | undefined;
  while (true) {
    c.skipSeparators();
    if (c.done) break;
    const name = c.token();
    if (!name) break; // unexpected character: stop rather than guess
    c.skipWs();
    if (c.peek() === '=' && current) {
      // auth-param of the current challenge (a token68 "abc=" would have been taken earlier)
      c.pos++;
      c.skipWs();
      let value: string | undefined;
      if (c.peek() === '"') {
        value = c.quoted();
        if (value === undefined) break;
      } else {
        value = c.token();
      }
      const key = name.toLowerCase();
      if (!(key in current.params)) current.params[key] = value;
      continue;
    }
    if (c.peek() === '=' && !current) break; // a param before any scheme: malformed
    // A new challenge: `name` is its scheme.
    current = { scheme: name.toLowerCase(), params: {} };
    challenges.push(current);
    c.skipWs();
    if (c.done || c.peek() === ',') continue;
    const t68 = readToken68(c);
    if (t68 !== undefined) current.token68 = t68;
  }
  return challenges;
}

/**
 * The parameters of the first Bearer challenge, else of the first DPoP challenge (RFC 9449 §7.1
 * uses the same resource_metadata, scope and error parameters), or undefined when the header
 * has neither. A DPoP challenge's `algs` are kept either way.
 */
export function parseBearerChallenge(header: string | null | undefined): BearerChallenge | undefined {
  const all = parseWwwAuthenticate(header);
  const bearer = all.find((ch) => ch.scheme === 'bearer');
  const dpop = all.find((ch) => ch.scheme === 'dpop');
  const chosen = bearer ?? dpop;
  if (!chosen) return undefined;
  const p = chosen.params;
  const out: BearerChallenge = {};
  const algs = dpop?.params.algs?.split(/\s+/).filter(Boolean);
  if (algs?.length) out.dpopAlgs = algs;
  if (dpop && !bearer) out.dpopOnly = true;
  const resourceMetadata = p.resource_metadata ?? dpop?.params.resource_metadata;
  if (resourceMetadata) out.resourceMetadata = resourceMetadata;
  if (p.scope) out.scope = p.scope;
  if (p.error) out.error = p.error;
  if (p.error_description) out.errorDescription = p.error_description;
  return out;
}
