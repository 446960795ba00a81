import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBytes } from '../../src/remote/httpClient.js';
import { SocketHttpClient } from '../../src/remote/http1/socketHttpClient.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

const MiB = 1024 * 1024;
/** A recognisable body: every byte depends on its offset, so a lost, doubled or swapped piece shows. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >> 12) + seed) & 0xff;
  return b;
}

/** node's own http server on 127.0.0.1, counting requests and connections. */
async function server(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void, keepAliveTimeoutMs = 30_000): Promise<{ url: URL; requests: () => number; connections: () => number }> {
  let requests = 0;
  let connections = 0;
  const srv: Server = createServer((req, res) => {
    requests++;
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => handler(req, res, Buffer.concat(parts).toString('utf8')));
  });
  srv.on('connection', () => connections++);
  // By default the server keeps connections (and says so: Keep-Alive: timeout=30): only the client's own rules close them.
  srv.keepAliveTimeout = keepAliveTimeoutMs;
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => (srv.closeAllConnections(), srv.close(() => resolve()))));
  return { url: new URL(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp?x=1`), requests: () => requests, connections: () => connections };
}

/** A raw TCP server that answers every request with `answer` (then does what `after` says). */
async function rawServer(answer: string, after: (socket: Socket) => void = () => undefined): Promise<URL> {
  const srv = createNetServer((socket) => {
    socket.once('data', () => {
      socket.write(answer);
      after(socket);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  return new URL(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp`);
}

function client(): SocketHttpClient {
  const http = new SocketHttpClient();
  closers.push(() => http.close());
  return http;
}

describe('SocketHttpClient against node:http', () => {
  it('sends method, path, query, headers and body, and reads chunked and Content-Length bodies intact over one kept-alive connection', async () => {
    const seen: { method?: string; url?: string; header?: string; body: string }[] = [];
    const big = pattern(3 * MiB + 17, 1);
    const { url, requests, connections } = await server((req, res, body) => {
      seen.push({ method: req.method, url: req.url, header: req.headers['x-test'] as string, body });
      if (body === 'chunked') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // many writes: many chunks, of uneven sizes
        for (let at = 0, i = 0; at < big.length; i++) {
          const n = 1 + ((i * 7919) % (96 * 1024));
          res.write(big.subarray(at, at + n));
          at += n;
        }
        res.end();
      } else {
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }
    });
    const http = client();
    const chunked = await http.request({ method: 'POST', url, headers: { 'x-test': 'yes', accept: 'text/event-stream' }, body: 'chunked' });
    expect(chunked.status).toBe(200);
    expect(chunked.headers['content-type']).toBe('text/event-stream');
    // A slow reader: every piece waits a turn, so reading follows the reader.
    const parts: Buffer[] = [];
    await chunked.body.forEach(async (piece) => {
      parts.push(piece);
      await new Promise((r) => setImmediate(r));
    });
    expect(Buffer.concat(parts).equals(big)).toBe(true);
    const fixed = await http.request({ method: 'POST', url, headers: {}, body: '{"é":1}' });
    expect(fixed.status).toBe(201);
    expect((await readBytes(fixed.body)).toString('utf8')).toBe('{"é":1}');
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['POST', '/mcp?x=1', 'chunked'],
      ['POST', '/mcp?x=1', '{"é":1}'],
    ]);
    expect(seen[0]!.header).toBe('yes');
    expect(requests()).toBe(2);
    expect(connections()).toBe(1);
  });

  it('keeps answers apart: 12 requests at once, each body its own', async () => {
    const { url } = await server((_req, res, body) => {
      const n = Number(body);
      res.writeHead(200);
      res.end(pattern(256 * 1024 + n, n));
    });
    const http = client();
    const bodies = await Promise.all(
      Array.from({ length: 12 }, async (_, n) => {
        const res = await http.request({ method: 'POST', url, headers: {}, body: String(n) });
        return readBytes(res.body);
      }),
    );
    bodies.forEach((b, n) => expect(b.equals(pattern(256 * 1024 + n, n)), `answer ${n}`).toBe(true));
  });

  it('stops reading when the reader has what it wants, drains the rest, and reuses the connection', async () => {
    const { url, connections } = await server((_req, res) => {
      res.writeHead(200);
      res.write('first piece');
      setImmediate(() => res.end('and a short rest'));
    });
    const http = client();
    const res = await http.request({ method: 'POST', url, headers: {}, body: '1' });
    const seen: string[] = [];
    await res.body.forEach((piece) => {
      seen.push(piece.toString());
      return true;
    });
    expect(seen).toEqual(['first piece']);
    await readBytes((await http.request({ method: 'POST', url, headers: {}, body: '2' })).body);
    expect(connections()).toBe(1);
  });

  it('does not hand a connection idle past its limit a request: it goes out once, on a fresh connection (regression: it read as ECONNRESET)', async () => {
    const { url, requests, connections } = await server((_req, res) => res.end('ok'));
    const http = client();
    await readBytes((await http.request({ method: 'POST', url, headers: {}, body: '{}' })).body);
    await new Promise((r) => setTimeout(r, 2_300)); // past the 2 s idle limit; the server keeps it for 30 s
    const res = await http.request({ method: 'POST', url, headers: {}, body: '{}' });
    expect((await readBytes(res.body)).toString()).toBe('ok');
    expect(requests()).toBe(2);
    expect(connections()).toBe(2);
  });

  it('reports a body the server cut short as ECONNRESET, never as a complete one', async () => {
    const url = await rawServer('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b', (s) => setImmediate(() => s.destroy()));
    const res = await client().request({ method: 'POST', url, headers: {}, body: '{}' });
    await expect(readBytes(res.body)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('refuses a malformed response (Content-Length with Transfer-Encoding) with HPE_INVALID', async () => {
    const url = await rawServer('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    await expect(client().request({ method: 'POST', url, headers: {}, body: '{}' })).rejects.toMatchObject({ code: 'HPE_INVALID' });
  });

  it('refuses a header value with a line break before anything is sent (no request splitting)', async () => {
    const { url, requests, connections } = await server((_req, res) => res.end('ok'));
    const http = client();
    await expect(http.request({ method: 'POST', url, headers: { 'x-a': 'one\r\nx-b: two' }, body: '{}' })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    await expect(http.request({ method: 'POST', url, headers: { 'bad name': 'v' }, body: '{}' })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    expect(requests()).toBe(0);
    expect(connections()).toBe(0);
  });

  it('ends a body read with AbortError when the request is aborted, and closes that connection', async () => {
    let closedOnServer = false;
    const { url } = await server((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      req.socket.on('close', () => (closedOnServer = true));
    });
    const http = client();
    const ac = new AbortController();
    const res = await http.request({ method: 'GET', url, headers: {}, signal: ac.signal });
    const reading = res.body.forEach(() => ac.abort());
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    for (let i = 0; i < 200 && !closedOnServer; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closedOnServer).toBe(true);
  });

  it('times out a server that never answers, with ETIMEDOUT', async () => {
    const url = await rawServer('');
    const http = new SocketHttpClient({ headersMs: 200 });
    closers.push(() => http.close());
    await expect(http.request({ method: 'POST', url, headers: {}, body: '{}' })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('reads to its end a response the server closes the connection after, however slow the reader (regression: the close failed it)', async () => {
    const body = pattern(200_000, 3);
    const url = await rawServer(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, (s) => s.end(body));
    const res = await client().request({ method: 'POST', url, headers: {}, body: '{}' });
    const parts: Buffer[] = [];
    await res.body.forEach(async (piece) => {
      parts.push(piece);
      await new Promise((r) => setTimeout(r, 5));
    });
    expect(Buffer.concat(parts).equals(body)).toBe(true);
  });

  it('refuses a header value with a character past U+00FF, which latin1 would turn into CR LF (regression: it was sent)', async () => {
    const { url, requests } = await server((_req, res) => res.end('ok'));
    const http = client();
    await expect(http.request({ method: 'GET', url, headers: { 'last-event-id': 'x\u010d\u010aX-Injected: yes' } })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    await expect(http.request({ method: 'GET', url, headers: { authorization: 'Bearer \u2028' } })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    expect(requests()).toBe(0);
  });

  it('does not reuse a connection the server keeps for less than the reuse margin (Keep-Alive: timeout=1)', async () => {
    const { url, connections } = await server((_req, res) => res.end('ok'), 1_000);
    const http = client();
    await readBytes((await http.request({ method: 'POST', url, headers: {}, body: '{}' })).body);
    await readBytes((await http.request({ method: 'POST', url, headers: {}, body: '{}' })).body);
    expect(connections()).toBe(2);
  });

  it('ends the wait of a request queued behind 64 busy connections when it is aborted (regression: it never settled)', async () => {
    const held: ServerResponse[] = [];
    const { url } = await server((_req, res) => void held.push(res));
    const http = client();
    const busy = Array.from({ length: 64 }, () => http.request({ method: 'POST', url, headers: {}, body: '{}' }));
    for (let i = 0; i < 500 && held.length < 64; i++) await new Promise((r) => setTimeout(r, 10));
    expect(held.length).toBe(64);
    const ac = new AbortController();
    const queued = http.request({ method: 'POST', url, headers: {}, body: '{}', signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    for (const res of held) res.end('done');
    for (const r of await Promise.all(busy)) expect((await readBytes(r.body)).toString()).toBe('done');
  });

  it('preconnect opens one connection ahead of the first request, which then goes out on it', async () => {
    const { url, requests, connections } = await server((_req, res) => res.end('ok'));
    const http = client();
    http.preconnect(url);
    http.preconnect(url); // one is enough: a second call opens nothing
    for (let i = 0; i < 200 && connections() === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(connections()).toBe(1);
    expect(requests()).toBe(0);
    expect((await readBytes((await http.request({ method: 'POST', url, headers: {}, body: '{}' })).body)).toString()).toBe('ok');
    expect(connections()).toBe(1);
    expect(requests()).toBe(1);
  });
});
