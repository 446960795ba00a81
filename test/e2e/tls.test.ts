import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, blobText, type Gateway } from '../../scripts/lab/gateway.js';
import { assertStdoutIsJsonRpc, spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';

// A self-signed certificate for 127.0.0.1, ::1 and localhost, made for these tests only (see test/lab/tls/README.md).
const CERT = fileURLToPath(new URL('../lab/tls/cert.pem', import.meta.url));
const KEY = fileURLToPath(new URL('../lab/tls/key.pem', import.meta.url));

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function httpsGateway(): Promise<Gateway> {
  const gw = await startGateway({ auth: { mode: 'none' }, tls: { key: readFileSync(KEY, 'utf8'), cert: readFileSync(CERT, 'utf8') } });
  cleanups.push(() => gw.close());
  return gw;
}

function bridge(args: string[], env: NodeJS.ProcessEnv): BridgeProcess {
  const b = spawnBridge(args, { env });
  cleanups.push(() => b.kill());
  return b;
}

describe('bridge to an https gateway (node TLS under the bridge\'s own HTTP/1.1 client)', () => {
  it('trusts the certificate NODE_EXTRA_CA_CERTS names, and relays calls and a 3 MiB answer intact on kept-alive connections', async () => {
    const gw = await httpsGateway();
    expect(gw.url.startsWith('https://127.0.0.1:')).toBe(true);
    const b = bridge([gw.url], { NODE_EXTRA_CA_CERTS: CERT });
    const client = new Client({ name: 'e2e-tls', version: '1.0.0' });
    await client.connect(b.transport());
    cleanups.push(() => client.close());
    expect(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] });
    const size = 3 * 1024 * 1024;
    const calls = await Promise.all([1, 2, 3].map(() => client.callTool({ name: 'blob', arguments: { bytes: size } })));
    for (const res of calls as { content: { text: string }[] }[]) expect(res.content[0]!.text === blobText(size)).toBe(true);
    await client.close();
    expect(await b.exited).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
    expect(gw.record.toolCalls.map((c) => c.name)).toEqual(['add', 'blob', 'blob', 'blob']);
  });

  it('fails closed on a certificate nobody trusts: the IDE gets an error naming NODE_EXTRA_CA_CERTS, and no call reaches the gateway', async () => {
    const gw = await httpsGateway();
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const b = bridge([gw.url], { ...env, NODE_EXTRA_CA_CERTS: '' });
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }));
    const answer = await b.waitFor((m) => m.id === 1);
    expect((answer.error as { message: string }).message).toMatch(/self-signed|not trusted/);
    expect((answer.error as { message: string }).message).toContain('NODE_EXTRA_CA_CERTS');
    expect(gw.record.rpc).toEqual([]);
    assertStdoutIsJsonRpc(b.stdout());
  });
});
