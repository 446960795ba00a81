import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBytes } from '../../src/remote/httpClient.js';
import { NodeHttpClient } from '../../src/remote/nodeHttpClient.js';
import { NOT_WRITTEN, retryDelay } from '../../src/remote/retryPolicy.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function server(): Promise<{ url: URL; requests: () => number }> {
  let requests = 0;
  const srv: Server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  srv.keepAliveTimeout = 30_000; // the pooled socket stays open: only the client's idle rule refuses it
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => (srv.closeAllConnections(), srv.close(() => resolve()))));
  return { url: new URL(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp`), requests: () => requests };
}

describe('NodeHttpClient keep-alive reuse', () => {
  it('a kept-alive socket refused for being idle too long fails as "not written", so even a tools/call goes out again (regression: it read as ECONNRESET)', async () => {
    const { url, requests } = await server();
    const http = new NodeHttpClient();
    closers.push(() => http.close());
    await readBytes((await http.request({ method: 'POST', url, headers: {}, body: '{}' })).body);
    // Idle past the 2 s reuse limit (no upper bound needed: the server keeps the socket for 30 s).
    await new Promise((r) => setTimeout(r, 2_300));
    const err = (await http.request({ method: 'POST', url, headers: {}, body: '{}' }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).toBe(NOT_WRITTEN);
    expect(requests()).toBe(1); // nothing reached the server
    expect(retryDelay({ attempt: 1, idempotent: false, errorCode: err.code, now: 0, random: 0.5 })).toBe(0);
    // The retry gets a fresh connection.
    expect((await http.request({ method: 'POST', url, headers: {}, body: '{}' })).status).toBe(200);
    expect(requests()).toBe(2);
  });
});
