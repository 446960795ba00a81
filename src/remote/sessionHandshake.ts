import type { JsonRpcId, JsonRpcMessage } from '../relay/jsonRpc.js';

/**
 * What a 2025 session's handshake leaves for the rest of the session: the IDE's own `initialize`
 * and `notifications/initialized` lines, as it wrote them (replayed to re-create an expired
 * session), and the protocol version the gateway's answer to `initialize` named (sent as
 * MCP-Protocol-Version on every later request).
 */
export class SessionHandshake {
  /** The IDE's initialize request, as it wrote it. */
  initializeRaw?: string;
  /** The IDE's notifications/initialized, as it wrote it. */
  initializedRaw?: string;
  /** The version the gateway's initialize answer named; undefined until that answer came. */
  protocolVersion?: string;
  private id?: JsonRpcId;

  /** A new initialize from the IDE: nothing an earlier one negotiated holds any more. */
  begin(raw: string): void {
    this.initializeRaw = raw;
    this.protocolVersion = undefined;
    this.id = undefined;
  }

  /** The session is being re-created: its version is negotiated again. */
  restart(): void {
    this.protocolVersion = undefined;
  }

  /** The id of the IDE's initialize (undefined before one, or for a line that does not parse). */
  get initializeId(): JsonRpcId | undefined {
    if (this.id === undefined && this.initializeRaw !== undefined) {
      try {
        this.id = (JSON.parse(this.initializeRaw) as JsonRpcMessage).id as JsonRpcId;
      } catch {
        return undefined;
      }
    }
    return this.id;
  }

  /** Whether requestId is the IDE's initialize, not answered yet. */
  isInitialize(requestId: JsonRpcId): boolean {
    return !this.protocolVersion && this.initializeId !== undefined && this.initializeId === requestId;
  }

  /** Take the negotiated version from the bytes of an answer to initialize. */
  noteResult(data: Buffer): void {
    try {
      const parsed = JSON.parse(data.toString('utf8')) as JsonRpcMessage;
      const version = (parsed.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
      if (typeof version === 'string') this.protocolVersion = version;
    } catch {
      // Not the bridge's to validate: the IDE sees the answer as it is.
    }
  }
}
