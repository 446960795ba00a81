import { isLoopbackHost } from '../auth/endpointPolicy.js';
import { UsageError } from '../errors.js';


/** Validate the gateway URL given by the user: https, or http on loopback / with --allow-http. */
export function parseServerUrl(text: string, opts: { allowHttp: boolean }): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a URL; give the gateway's full MCP endpoint, e.g. https://gateway.example.com/mcp`);
  }
  if (url.username || url.password) throw new UsageError('the gateway URL must not carry a user name or password; use --header instead');
  if (url.hash) throw new UsageError('the gateway URL must not have a #fragment');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:') {
    if (isLoopbackHost(url.hostname) || opts.allowHttp) return url;
    throw new UsageError(`refusing plain http to ${url.host}: tokens would travel unencrypted. Use https, or --allow-http if you accept that risk`);
  }
  throw new UsageError(`unsupported URL scheme ${url.protocol} (use https://)`);
}
