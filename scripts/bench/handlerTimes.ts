import dc from 'node:diagnostics_channel';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';

/**
 * Time each request inside a gateway process, from node:http's 'request' event (its head parsed)
 * to the response's 'finish' (the last byte handed to the kernel), by the scheme of its
 * Authorization header, through node:http's diagnostics channels: no change to the gateway's
 * code, and the time a request spends in the gateway is told apart from the time outside it.
 */

export type Scheme = 'bearer' | 'dpop' | 'none';

/** One request: when it began (epoch ms, comparable across processes) and how long the gateway had it. */
export interface HandlerSample {
  scheme: Scheme;
  startEpochMs: number;
  durationMs: number;
}

/** Samples kept at most (a bench phase makes a few thousand requests). */
const MAX_SAMPLES = 200_000;

/** Start recording in this process; `save` writes what was recorded as JSON, `stop` ends the recording. */
export function recordHandlerTimes(): { save(path: string): Promise<void>; stop(): void } {
  const samples: HandlerSample[] = [];
  const started = new WeakMap<IncomingMessage, { scheme: Scheme; epoch: number; t: number }>();
  const onStart = (message: unknown): void => {
    const { request } = message as { request: IncomingMessage };
    const auth = request.headers.authorization ?? '';
    const scheme: Scheme = /^dpop /i.test(auth) ? 'dpop' : /^bearer /i.test(auth) ? 'bearer' : 'none';
    started.set(request, { scheme, epoch: Date.now(), t: performance.now() });
  };
  const onFinish = (message: unknown): void => {
    const { request } = message as { request: IncomingMessage };
    const start = started.get(request);
    if (!start || samples.length >= MAX_SAMPLES) return;
    samples.push({ scheme: start.scheme, startEpochMs: start.epoch, durationMs: performance.now() - start.t });
  };
  dc.subscribe('http.server.request.start', onStart);
  dc.subscribe('http.server.response.finish', onFinish);
  return {
    save: (path) => writeFile(path, JSON.stringify(samples)),
    stop: () => {
      dc.unsubscribe('http.server.request.start', onStart);
      dc.unsubscribe('http.server.response.finish', onFinish);
    },
  };
}

/** What a gateway process recorded (an empty list when it wrote nothing). */
export async function readHandlerTimes(path: string): Promise<HandlerSample[]> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as HandlerSample[];
  } catch {
    return [];
  }
}

/** The durations of one scheme's requests that began within [fromEpochMs, toEpochMs]. */
export function durationsWithin(samples: readonly HandlerSample[], scheme: Scheme, fromEpochMs: number, toEpochMs: number): number[] {
  return samples.filter((s) => s.scheme === scheme && s.startEpochMs >= fromEpochMs && s.startEpochMs <= toEpochMs).map((s) => s.durationMs);
}
