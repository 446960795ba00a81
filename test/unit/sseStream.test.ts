import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readableBody } from '../../src/remote/bodySource.js';
import { consumeSse, type SseState } from '../../src/remote/sseStream.js';

async function events(chunks: string[], state: SseState = {}): Promise<{ data: string; id?: string; event?: string }[]> {
  const out: { data: string; id?: string; event?: string }[] = [];
  await consumeSse(readableBody(Readable.from(chunks.map((c) => Buffer.from(c)))), state, (ev) => {
    out.push({ data: ev.data.toString(), id: ev.id, event: ev.event });
  });
  return out;
}

describe('SSE reader', () => {
  it('joins fields across chunks, multi-line data with \\n, and skips comments', async () => {
    const got = await events([': keep-alive\n', 'event: mess', 'age\r\nid: 7\r\ndata: {"a":', '1}\ndata: x\n\n']);
    expect(got).toEqual([{ data: '{"a":1}\nx', id: '7', event: 'message' }]);
  });
  it('records the last event id only once its event is complete, and the retry field', async () => {
    const state: SseState = {};
    await events(['id: 1\ndata: one\n\nretry: 2500\nid: 2\ndata: half-an-ev'], state);
    expect(state.lastEventId).toBe('1');
    expect(state.retryMs).toBe(2500);
  });
});
