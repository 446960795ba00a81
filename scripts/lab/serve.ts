/**
 * Run the lab by hand:  node dist/scripts/lab/serve.js [--auth oauth|static|none] [--ttl N] [--legacy-sse] [--dpop] [--dpop-nonce]
 * Prints one JSON line on stdout ({gateway, issuer?, jwksUri?, staticToken?}) and runs until SIGINT/SIGTERM.
 * oidc-provider's console notices are sent to stderr so stdout stays machine-readable.
 */
import { parseArgs } from 'node:util';
import type { LabOptions } from './lab.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      auth: { type: 'string', default: 'oauth' },
      ttl: { type: 'string' },
      'legacy-sse': { type: 'boolean', default: false },
      'gateway-port': { type: 'string' },
      'idp-port': { type: 'string' },
      'static-token': { type: 'string' },
      dpop: { type: 'boolean', default: false },
      'dpop-nonce': { type: 'boolean', default: false },
    },
  });
  const auth = values.auth;
  if (auth !== 'oauth' && auth !== 'static' && auth !== 'none') throw new Error(`--auth must be oauth, static or none (got ${auth})`);
  console.info = (...args: unknown[]) => console.error(...args);
  // Listen for the stop signal before starting, so a signal during start-up still shuts down cleanly.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const opts: LabOptions = {
    auth,
    legacySse: values['legacy-sse'],
    accessTokenTtl: values.ttl !== undefined ? Number(values.ttl) : undefined,
    gatewayPort: values['gateway-port'] !== undefined ? Number(values['gateway-port']) : undefined,
    idpPort: values['idp-port'] !== undefined ? Number(values['idp-port']) : undefined,
    staticToken: values['static-token'],
    // Lab mode 'dpop': DPoP-bound tokens; --dpop-nonce adds a nonce demand at the IdP and the gateway.
    dpop: values.dpop || values['dpop-nonce'] ? { idpNonce: values['dpop-nonce'], gatewayNonce: values['dpop-nonce'] } : undefined,
  };
  // Loaded after the signal handlers are in place (importing oidc-provider takes a moment).
  const { startLab, LAB_STATIC_TOKEN } = await import('./lab.js');
  const lab = await startLab(opts);
  process.stdout.write(
    `${JSON.stringify({
      gateway: lab.gateway.url,
      issuer: lab.idp?.issuer,
      jwksUri: lab.idp?.jwksUri,
      staticToken: auth === 'static' ? (opts.staticToken ?? LAB_STATIC_TOKEN) : undefined,
    })}\n`,
  );
  await stopped;
  await lab.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`lab serve: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
