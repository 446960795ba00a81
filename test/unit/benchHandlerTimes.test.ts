import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { durationsWithin, readHandlerTimes, recordHandlerTimes, type HandlerSample } from '../../scripts/bench/handlerTimes.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("bench: the gateway's own time per request (handlerTimes)", () => {
  it('records each request a node:http server answers, by Authorization scheme, with the time until its response finished', async () => {
    const recorder = recordHandlerTimes();
    cleanups.push(() => recorder.stop());
    const holdMs = 30;
    const server = createServer((req, res) => {
      setTimeout(() => res.end('ok'), /^dpop /i.test(req.headers.authorization ?? '') ? holdMs : 0);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    const from = Date.now();
    for (const authorization of ['Bearer a', 'DPoP b', 'dpop c', undefined]) {
      const res = await fetch(url, { method: 'POST', body: '{}', headers: authorization ? { authorization } : {} });
      await res.text();
    }
    const to = Date.now();
    const dir = await mkdtemp(path.join(tmpdir(), 'kb-handler-times-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'times.json');
    await recorder.save(file);
    const samples = await readHandlerTimes(file);
    expect(samples.map((s) => s.scheme)).toEqual(['bearer', 'dpop', 'dpop', 'none']);
    const dpop = durationsWithin(samples, 'dpop', from, to);
    expect(dpop).toHaveLength(2);
    // The server held DPoP requests for holdMs before answering: the recorded time covers that hold.
    for (const ms of dpop) expect(ms).toBeGreaterThanOrEqual(holdMs - 1);
    expect(durationsWithin(samples, 'bearer', from, to)).toHaveLength(1);
  });

  it('selects by scheme and by the epoch span a request began in', () => {
    const samples: HandlerSample[] = [
      { scheme: 'bearer', startEpochMs: 100, durationMs: 1 },
      { scheme: 'dpop', startEpochMs: 150, durationMs: 2 },
      { scheme: 'dpop', startEpochMs: 250, durationMs: 3 },
      { scheme: 'bearer', startEpochMs: 300, durationMs: 4 },
    ];
    expect(durationsWithin(samples, 'dpop', 100, 200)).toEqual([2]);
    expect(durationsWithin(samples, 'bearer', 100, 300)).toEqual([1, 4]);
    expect(durationsWithin(samples, 'none', 0, 1_000)).toEqual([]);
  });

  it('reads a missing file as nothing recorded', async () => {
    expect(await readHandlerTimes(path.join(tmpdir(), 'kb-no-such-dir', 'times.json'))).toEqual([]);
  });
});
