import { describe, expect, it } from 'vitest';
import { discoverAuthorizationServer, discoverProtectedResource } from '../../src/auth/discovery.js';
import { checkServerNamedTarget, isLinkLocalHost, isThisMachineHost } from '../../src/auth/endpointPolicy.js';
import { UnsafeServerError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';

const quiet = new Logger({ sink: { write: () => undefined } });
const REMOTE_GATEWAY = new URL('https://gw.example.com/mcp');
const LOOPBACK_GATEWAY = new URL('http://127.0.0.1:4100/mcp');

/** A fetch that records what it was asked for and answers 404: nothing may be asked of a refused host. */
function recordingFetch(): { fetch: typeof globalThis.fetch; asked: string[] } {
  const asked: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    asked.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    return new Response('{}', { status: 404, headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
  return { fetch, asked };
}

describe('which hosts a server may send the bridge to for metadata', () => {
  it('knows link-local and this-machine literals, IPv4-mapped forms included', () => {
    for (const h of ['169.254.169.254', '169.254.0.1', '[fe80::1]', '[febf::abcd]', '[::ffff:169.254.169.254]', '[::ffff:a9fe:a9fe]']) expect(isLinkLocalHost(h), h).toBe(true);
    for (const h of ['169.255.0.1', '[fec0::1]', 'example.com', '10.0.0.1']) expect(isLinkLocalHost(h), h).toBe(false);
    for (const h of ['localhost', 'idp.localhost', '127.0.0.1', '127.9.9.9', '[::1]', '[::ffff:127.0.0.1]', '0.0.0.0', '[::]']) expect(isThisMachineHost(h), h).toBe(true);
    for (const h of ['example.com', '10.0.0.1', '[2001:db8::1]', 'localhost.example.com']) expect(isThisMachineHost(h), h).toBe(false);
  });

  it('refuses link-local always, and this machine only for a gateway elsewhere', () => {
    expect(() => checkServerNamedTarget(new URL('http://169.254.169.254/latest'), 'x', LOOPBACK_GATEWAY)).toThrow(UnsafeServerError);
    expect(() => checkServerNamedTarget(new URL('http://[fe80::1]:80/'), 'x', REMOTE_GATEWAY)).toThrow(/link-local/);
    expect(() => checkServerNamedTarget(new URL('http://127.0.0.1:6379/'), 'x', REMOTE_GATEWAY)).toThrow(/on this machine/);
    expect(() => checkServerNamedTarget(new URL('http://localhost:8080/'), 'x', REMOTE_GATEWAY)).toThrow(/on this machine/);
    expect(() => checkServerNamedTarget(new URL('http://127.0.0.1:4200/'), 'x', LOOPBACK_GATEWAY)).not.toThrow();
    expect(() => checkServerNamedTarget(new URL('https://idp.example.com/'), 'x', REMOTE_GATEWAY)).not.toThrow();
  });

  it('a resource_metadata URL at the instance metadata address is never fetched', async () => {
    const { fetch, asked } = recordingFetch();
    const run = discoverProtectedResource({
      serverUrl: LOOPBACK_GATEWAY,
      expectedResource: LOOPBACK_GATEWAY.href,
      resourceMetadataUrl: 'http://169.254.169.254/latest/meta-data/',
      fetch,
      log: quiet,
      allowHttp: true,
    });
    await expect(run).rejects.toThrow(/link-local/);
    expect(asked.filter((u) => u.includes('169.254'))).toEqual([]);
  });

  it('a remote gateway naming a loopback issuer gets no request sent there', async () => {
    const { fetch, asked } = recordingFetch();
    const run = discoverAuthorizationServer({ issuer: 'http://127.0.0.1:6379', gatewayUrl: REMOTE_GATEWAY, fetch, log: quiet });
    await expect(run).rejects.toThrow(/on this machine/);
    expect(asked).toEqual([]);
  });
});
