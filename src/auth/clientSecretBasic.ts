import type * as client from 'openid-client';

/**
 * RFC 6749 §2.3.1 asks that client_id and client_secret be form-encoded before they are joined for
 * HTTP Basic. openid-client does exactly that, with the strict encoding that also turns `-`, `.`,
 * `_`, `~` (and `!*'()`) into %XX. Many servers never decode the Basic credentials, so a client
 * `pre-registered-client` arrives as `pre%2Dregistered%2Dclient` and is refused (invalid_client).
 *
 * When the id and the secret are made only of RFC 3986 unreserved characters, form-encoding
 * leaves them unchanged by any reading of the rule, and a server that decodes gets the same
 * bytes as one that does not: send them as they are. Anything else (`:`, `%`, spaces, non-ASCII)
 * is form-encoded as the RFC says, since it could not be sent unambiguously otherwise.
 */
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

/** application/x-www-form-urlencoded as RFC 6749 Appendix B describes it (space as "+"). */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The value of the Authorization header for client_secret_basic. */
export function basicCredentials(clientId: string, clientSecret: string): string {
  const plain = UNRESERVED.test(clientId) && UNRESERVED.test(clientSecret);
  const id = plain ? clientId : formEncode(clientId);
  const secret = plain ? clientSecret : formEncode(clientSecret);
  return `Basic ${Buffer.from(`${id}:${secret}`, 'utf8').toString('base64')}`;
}

/** openid-client ClientAuth for client_secret_basic with the encoding above. */
export function clientSecretBasic(clientSecret: string | undefined): client.ClientAuth {
  return (_as, clientMetadata, _body, headers) => {
    if (!clientSecret) throw new TypeError('client_secret_basic needs a client secret');
    headers.set('authorization', basicCredentials(clientMetadata.client_id, clientSecret));
  };
}
