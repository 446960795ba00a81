import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { toAuthError } from '../../src/auth/oauthErrors.js';
import { UnsafeServerError } from '../../src/errors.js';

/**
 * RFC 9207 as openid-client applies it to the callback URL we hand over: when the AS metadata
 * says authorization_response_iss_parameter_supported, iss is required; when present it must
 * match. These checks run before any token request, so no server is needed.
 */
function config(issSupported: boolean): client.Configuration {
  return new client.Configuration(
    {
      issuer: 'https://as.example',
      authorization_endpoint: 'https://as.example/authorize',
      token_endpoint: 'https://as.example/token',
      authorization_response_iss_parameter_supported: issSupported,
    },
    'client-1',
    undefined,
    client.None(),
  );
}

async function exchange(cfg: client.Configuration, query: string): Promise<unknown> {
  return client
    .authorizationCodeGrant(cfg, new URL(`http://127.0.0.1:5000/callback?${query}`), { expectedState: 's1', pkceCodeVerifier: 'v'.repeat(43) })
    .catch((e: unknown) => toAuthError(e, 'authorization code exchange'));
}

describe('authorization response iss (RFC 9207)', () => {
  it('requires iss when the AS advertises support', async () => {
    expect(await exchange(config(true), 'code=c&state=s1')).toBeInstanceOf(UnsafeServerError);
  });
  it('refuses a wrong iss whether or not support is advertised', async () => {
    expect(await exchange(config(true), 'code=c&state=s1&iss=https%3A%2F%2Fevil.example')).toBeInstanceOf(UnsafeServerError);
    expect(await exchange(config(false), 'code=c&state=s1&iss=https%3A%2F%2Fevil.example')).toBeInstanceOf(UnsafeServerError);
  });
  it('refuses a state mismatch', async () => {
    expect(await exchange(config(false), 'code=c&state=other')).toBeInstanceOf(UnsafeServerError);
  });
});
