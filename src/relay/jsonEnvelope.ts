import { EnvelopeScanner, type Envelope } from './envelopeScanner.js';

export type { Envelope } from './envelopeScanner.js';

/**
 * The routing envelope of one JSON-RPC message given as bytes (see EnvelopeScanner): the one
 * JSON.parse gives, or undefined when the scanner cannot be sure of that (invalid JSON among
 * others); the caller then falls back to JSON.parse.
 */
export function readEnvelope(buf: Buffer): Envelope | undefined {
  const scanner = new EnvelopeScanner();
  scanner.push(buf);
  return scanner.finish();
}

/** Below this size a message is simply parsed (which also validates it completely). */
export const SMALL_MESSAGE_BYTES = 64 * 1024;

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
  const env = envelopeOf(m);
  // JSON may carry line breaks between tokens; stdio framing forbids them, so re-serialize then
  // (a message nested too deeply for JSON.stringify is not relayed: undefined, as for bad JSON).
  let bytes = data;
  if (hasLineBreak) {
    try {
      bytes = Buffer.from(JSON.stringify(msg));
    } catch {
      return undefined;
    }
  }
  return { bytes, env, msg: m };
}

/** The routing envelope of a parsed message: what EnvelopeScanner must agree with. */
export function envelopeOf(m: { method?: unknown; id?: unknown; error?: unknown }): Envelope {
  const id = m.id;
  const env: Envelope = {
    hasMethod: m.method !== undefined,
    hasId: id !== undefined,
    id: typeof id === 'string' || typeof id === 'number' || id === null ? id : undefined,
  };
  if (m.error !== undefined) env.hasError = true;
  return env;
}
