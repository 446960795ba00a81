/**
 * The bench's floor: the least a stdio ↔ Streamable HTTP relay written for Node can do, spawned in
 * the bridge's place by the same SDK client, so that a run shows what any relay costs on its machine
 * before doing anything a bridge must. NOT a bridge: no envelope check, no limits, no auth, no
 * policy, no era translation, no error handling; a gateway that misbehaves breaks it.
 *
 * Each line on stdin is POSTed to the gateway as it is (node:http, one keep-alive agent), with the
 * headers the gateway requires: its session id once it gave one (2025), and for a 2026-07-28 message
 * (its `_meta` names that revision) Mcp-Protocol-Version, Mcp-Method and Mcp-Name. A JSON answer
 * goes to stdout chunk by chunk as it arrives, an SSE answer's `data:` lines likewise, each message
 * ended by a line break. One answer is written at a time; answers arriving meanwhile are buffered in
 * memory and written, in the order they began, when the one being written ends.
 *
 * Usage: node floorRelay.js <gateway URL>. Ends when stdin ends.
 */
import { Agent, request, type IncomingMessage } from 'node:http';

const MODERN = '2026-07-28';
const url = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
let sessionId: string | undefined;

/** An answer on its way to stdout: written through when it is the first in line, else held. */
class Answer {
  held: Buffer[] = [];
  ended = false;
}
const inLine: Answer[] = [];

function emit(a: Answer, chunk: Buffer): void {
  if (inLine[0] === a) process.stdout.write(chunk);
  else a.held.push(chunk);
}

function finish(a: Answer): void {
  a.ended = true;
  while (inLine.length > 0 && inLine[0]!.ended) {
    inLine.shift();
    const next = inLine[0];
    if (!next) break;
    for (const c of next.held) process.stdout.write(c);
    next.held = [];
  }
}

function send(line: string): void {
  const msg = JSON.parse(line) as { id?: unknown; method?: string; params?: { name?: string; uri?: string; _meta?: Record<string, unknown> } };
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (sessionId) headers['mcp-session-id'] = sessionId;
  if (msg.params?._meta?.['io.modelcontextprotocol/protocolVersion'] === MODERN && msg.method) {
    headers['mcp-protocol-version'] = MODERN;
    headers['mcp-method'] = msg.method;
    const name = msg.params.name ?? msg.params.uri;
    if (name !== undefined) headers['mcp-name'] = name;
  }
  const answer = msg.id !== undefined && msg.method !== undefined ? new Answer() : undefined;
  if (answer) inLine.push(answer);
  const req = request(url, { method: 'POST', agent, headers }, (res) => {
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string') sessionId = sid;
    if (!answer) return void res.resume();
    if (String(res.headers['content-type']).startsWith('text/event-stream')) relaySse(res, answer);
    else {
      res.on('data', (c: Buffer) => emit(answer, c));
      res.on('end', () => {
        emit(answer, NEWLINE);
        finish(answer);
      });
    }
  });
  req.end(line);
}

const NEWLINE = Buffer.from('\n');
const DATA = Buffer.from('data:');

/** The data lines of an SSE answer, each written as one message line (one data line per event, as MCP servers send). */
function relaySse(res: IncomingMessage, answer: Answer): void {
  let head = Buffer.alloc(0); // the start of a line, until it shows whether it is a data line
  let inData = false;
  let skipping = false;
  res.on('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (inData || skipping) {
        const nl = chunk.indexOf(0x0a, i);
        const end = nl === -1 ? chunk.length : nl;
        if (inData) emit(answer, chunk.subarray(i, end));
        if (nl === -1) return;
        if (inData) emit(answer, NEWLINE);
        inData = skipping = false;
        i = nl + 1;
        continue;
      }
      // At a line's start: gather enough of it to tell its field.
      const take = Math.min(chunk.length - i, DATA.length + 1 - head.length);
      head = Buffer.concat([head, chunk.subarray(i, i + take)]);
      i += take;
      const nl = head.indexOf(0x0a);
      if (nl !== -1) {
        i -= head.length - nl - 1; // a short line (blank, or a short field): read on after it
        head = Buffer.alloc(0);
        continue;
      }
      if (head.length < DATA.length + 1) continue;
      if (head.subarray(0, DATA.length).equals(DATA)) {
        inData = true;
        const rest = head.subarray(DATA.length)[0] === 0x20 ? head.subarray(DATA.length + 1) : head.subarray(DATA.length);
        emit(answer, Buffer.from(rest));
      } else skipping = true;
      head = Buffer.alloc(0);
    }
  });
  res.on('end', () => finish(answer));
}

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (s: string) => {
  pending += s;
  for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line.trim()) send(line);
  }
});
process.stdin.on('end', () => {
  agent.destroy();
  process.exit(0);
});
