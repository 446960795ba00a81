import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';

/**
 * The canonical URI of an MCP server (MCP authorization spec, "Canonical Server URI", and
 * RFC 8707 §2): lower-case scheme and host (URL does that), default port dropped, no fragment,
 * no trailing slash unless the path is just "/".
 */
export function canonicalServerUrl(input: URL | string): string {
  let url: URL;
  try {
    url = new URL(typeof input === 'string' ? input : input.href);
  } catch {
    throw new UsageError(`not a valid URL: ${JSON.stringify(String(input))}`, 'bad_url');
  }
  url.hash = '';
  if (url.pathname.length > 1 && url.pathname.endsWith('/')) {
    url.pathname = url.pathname.replace(/\/+$/, '') || '/';
  }
  return url.href;
}

/** What identifies one stored session: the server plus the user-chosen options that change what we get. */
export interface ProfileKeyInput {
  server: URL | string;
  clientId?: string;
  resource?: string;
  scope?: string;
  /** 'machine': client credentials (no user); kept apart from user sessions so neither is ever used as the other. */
  kind?: 'user' | 'machine';
  /** The ID token is the bearer (--use-id-token): a different token goes to the gateway. */
  idTokenBearer?: boolean;
}

/**
 * Deterministic store key of a session. The bridge must find its session at start, before it
 * knows the issuer, so the key is the canonical server URL plus the option set (client id,
 * resource, scope); issuer and client live inside the record.
 */
export function profileKey(input: ProfileKeyInput): string {
  const extras = new URLSearchParams();
  if (input.clientId) extras.set('client_id', input.clientId);
  if (input.resource) extras.set('resource', canonicalServerUrl(input.resource));
  if (input.scope) extras.set('scope', input.scope.split(/\s+/).filter(Boolean).sort().join(' '));
  if (input.idTokenBearer) extras.set('bearer', 'id_token');
  const suffix = extras.size > 0 ? `#${extras.toString()}` : '';
  const prefix = input.kind === 'machine' ? MACHINE_PREFIX : USER_PREFIX;
  return `${prefix}${canonicalServerUrl(input.server)}${suffix}`;
}

const USER_PREFIX = 'session:';
const MACHINE_PREFIX = 'machine:';

/** The store key of the profile these options address (see profileKey). */
export function profileKeyFor(options: {
  serverUrl: URL;
  clientId?: string;
  resource?: string;
  scope?: string;
  grant?: string;
  useIdToken?: boolean;
}): string {
  return profileKey({
    server: options.serverUrl,
    clientId: options.clientId,
    resource: options.resource,
    scope: options.scope,
    kind: options.grant === 'client-credentials' || options.grant === 'jwt-bearer' ? 'machine' : 'user',
    idTokenBearer: options.useIdToken,
  });
}

/** True when a store key names a session record, a user's or a machine's (for status / cache listing). */
export function isSessionKey(key: string): boolean {
  return key.startsWith(USER_PREFIX) || key.startsWith(MACHINE_PREFIX);
}

/**
 * Store key of a client registration (dynamic or metadata document) at one authorization
 * server for one callback host. The record inside carries the exact redirect URI, and is reused
 * only when the listener got that same URI (we first try to bind the registered port again).
 */
export function registrationKey(input: { issuer: string; callbackHost: string }): string {
  return `client:${input.issuer}#host=${input.callbackHost}`;
}

/** A short, filesystem-safe lock name for a key (lock files must not carry URLs). */
export function lockName(purpose: 'signin' | 'refresh' | 'register', key: string): string {
  return `${purpose}-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}
