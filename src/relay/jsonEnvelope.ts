/**
 * Reads the routing fields of a JSON-RPC message (does it have a "method", what is its "id")
 * straight from its bytes, without building the message: a 1 MiB tool result is skipped over with
 * a few indexOf calls instead of being parsed into objects and strings. The structure is checked
 * as it is walked (balanced brackets, closed strings, one top-level object); anything unexpected
 * returns undefined and the caller falls back to JSON.parse.
 */
export interface Envelope {
  hasMethod: boolean;
  /** The id when present: a string, a number or null. */
  id?: string | number | null;
  hasId: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipWs(buf: Buffer, i: number): number {
  while (i < buf.length && isWs(buf[i]!)) i++;
  return i;
}

/** Index just past the closing quote of the string starting at i (buf[i] is the opening quote), or -1. */
function skipString(buf: Buffer, i: number): number {
  let pos = i + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, pos);
    if (q === -1) return -1;
    // The quote is escaped when an odd number of backslashes precede it.
    let bs = 0;
    for (let k = q - 1; k > i && buf[k] === BACKSLASH; k--) bs++;
    if (bs % 2 === 0) return q + 1;
    pos = q + 1;
  }
}

/** Index just past the value starting at i, or -1 when the structure is broken. */
function skipValue(buf: Buffer, i: number): number {
  const b = buf[i];
  if (b === QUOTE) return skipString(buf, i);
  if (b === OPEN_OBJ || b === OPEN_ARR) {
    let depth = 0;
    let pos = i;
    while (pos < buf.length) {
      const c = buf[pos]!;
      if (c === QUOTE) {
        pos = skipString(buf, pos);
        if (pos === -1) return -1;
        continue;
      }
      if (c === OPEN_OBJ || c === OPEN_ARR) depth++;
      else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
        depth--;
        if (depth === 0) return pos + 1;
      }
      pos++;
    }
    return -1;
  }
  // number, true, false, null: up to the next delimiter
  let pos = i;
  while (pos < buf.length) {
    const c = buf[pos]!;
    if (c === COMMA || c === CLOSE_OBJ || c === CLOSE_ARR || isWs(c)) break;
    pos++;
  }
  return pos > i ? pos : -1;
}

/** The routing envelope of one JSON-RPC message given as bytes, or undefined if it is not a well-formed object. */
export function readEnvelope(buf: Buffer): Envelope | undefined {
  let i = skipWs(buf, 0);
  if (buf[i] !== OPEN_OBJ) return undefined;
  i = skipWs(buf, i + 1);
  const env: Envelope = { hasMethod: false, hasId: false };
  if (buf[i] === CLOSE_OBJ) return skipWs(buf, i + 1) === buf.length ? env : undefined;
  for (;;) {
    if (buf[i] !== QUOTE) return undefined;
    const keyEnd = skipString(buf, i);
    if (keyEnd === -1) return undefined;
    const key = buf.toString('utf8', i + 1, keyEnd - 1);
    i = skipWs(buf, keyEnd);
    if (buf[i] !== COLON) return undefined;
    i = skipWs(buf, i + 1);
    const valueEnd = skipValue(buf, i);
    if (valueEnd === -1) return undefined;
    if (key === 'method') {
      env.hasMethod = true;
    } else if (key === 'id') {
      try {
        const id: unknown = JSON.parse(buf.toString('utf8', i, valueEnd));
        if (id !== null && typeof id !== 'string' && typeof id !== 'number') return undefined;
        env.id = id as string | number | null;
        env.hasId = true;
      } catch {
        return undefined;
      }
    }
    i = skipWs(buf, valueEnd);
    if (buf[i] === COMMA) {
      i = skipWs(buf, i + 1);
      continue;
    }
    if (buf[i] === CLOSE_OBJ) return skipWs(buf, i + 1) === buf.length ? env : undefined;
    return undefined;
  }
}

/** Below this size a message is simply parsed (which also validates it completely). */
const SMALL_MESSAGE_BYTES = 64 * 1024;

/** A message from the gateway ready for stdout: one line of bytes, its routing envelope, and the parsed form when it was small. */
export interface PreparedMessage {
  bytes: Buffer;
  env: Envelope;
  msg?: { method?: unknown; id?: unknown; result?: unknown; error?: unknown };
}

/**
 * Turn one JSON-RPC message from the gateway (an SSE event's data or a JSON body) into a single
 * stdout line. Small messages are parsed; large ones are routed by readEnvelope and forwarded as
 * the very bytes received. Undefined when it is not a JSON object.
 */
export function prepareMessage(data: Buffer): PreparedMessage | undefined {
  const hasLineBreak = data.includes(0x0a) || data.includes(0x0d);
  if (data.length > SMALL_MESSAGE_BYTES && !hasLineBreak) {
    const env = readEnvelope(data);
    if (env) return { bytes: data, env };
  }
  let msg: unknown;
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return undefined;
  const m = msg as PreparedMessage['msg'] & object;
  const id = m.id;
  const env: Envelope = {
    hasMethod: m.method !== undefined,
    hasId: id !== undefined,
    id: typeof id === 'string' || typeof id === 'number' || id === null ? id : undefined,
  };
  // JSON may carry line breaks between tokens; stdio framing forbids them, so re-serialize then.
  return { bytes: hasLineBreak ? Buffer.from(JSON.stringify(msg)) : data, env, msg: m };
}
