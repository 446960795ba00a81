/**
 * The bench's MCP clients, one per protocol era, behind the few operations the bench uses: the SDK
 * 1.x client (`@modelcontextprotocol/sdk`, the 2025 era, what most IDEs embed today) and the SDK v2
 * client (`@modelcontextprotocol/client`) pinned to 2026-07-28, which talks to a 2026 gateway's
 * modern leg directly and, through the bridge, makes the bridge relay 2026 to 2026 (no translation,
 * nothing held). Each era is measured with the same client direct and through the bridge.
 */
import type { Readable } from 'node:stream';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernHttpTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport as ModernStdioTransport } from '@modelcontextprotocol/client/stdio';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as LegacyStdioTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** The era of the client the IDE side runs: 2025 (SDK 1.x) or 2026-07-28 (SDK v2, pinned). */
export type ClientEra = '2025' | '2026';

export const MODERN_REVISION = '2026-07-28';

export interface ToolCallParams {
  name: string;
  arguments: Record<string, unknown>;
}

/** One connected SDK client and its transport, as far as the bench needs them. */
export interface SdkSession {
  /** One tools/call; resolves with the result (the SDK's own result validation included). */
  callTool(params: ToolCallParams, timeoutMs: number): Promise<unknown>;
  /** Set before connect(): the transport closed (for the bridge, the child exited). */
  onclose?: () => void;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** The spawned child (stdio only). */
  readonly pid: number | undefined;
  /** The child's stderr when piped (stdio only). */
  readonly stderr: Readable | null;
  /** The transport's private child process (stdio only), to tell a clean exit from a crash. */
  readonly child: unknown;
  /** DELETE the session, where the era has one (HTTP only). */
  terminateSession(): Promise<void>;
}

export interface StdioLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  maxBufferSize: number;
}

const CLIENT_INFO = { name: 'keybridge-bench', version: '1.0.0' };

/** A client of `era` over Streamable HTTP straight to `url`. */
export function httpSession(era: ClientEra, url: string, headers: Record<string, string>, fetchFn: typeof fetch): SdkSession {
  if (era === '2025') {
    const transport = new LegacyHttpTransport(new URL(url), { requestInit: { headers }, fetch: fetchFn });
    return legacySession(transport, () => transport.terminateSession());
  }
  const transport = new ModernHttpTransport(new URL(url), { requestInit: { headers }, fetch: fetchFn });
  return modernSession(transport, async () => undefined); // stateless: no session to end
}

/** A client of `era` driving a spawned child over stdio. */
export function stdioSession(era: ClientEra, launch: StdioLaunch): SdkSession {
  const params = { ...launch, stderr: 'pipe' as const };
  if (era === '2025') return legacySession(new LegacyStdioTransport(params), async () => undefined);
  return modernSession(new ModernStdioTransport(params), async () => undefined);
}

type LegacyTransport = LegacyHttpTransport | LegacyStdioTransport;
type ModernTransport = ModernHttpTransport | ModernStdioTransport;

function legacySession(transport: LegacyTransport, terminate: () => Promise<void>): SdkSession {
  const client = new LegacyClient(CLIENT_INFO);
  return session(transport, terminate, {
    setOnclose: (f) => (client.onclose = f),
    connect: () => client.connect(transport),
    close: () => client.close(),
    callTool: (params, timeoutMs) => client.callTool(params, undefined, { timeout: timeoutMs }),
  });
}

function modernSession(transport: ModernTransport, terminate: () => Promise<void>): SdkSession {
  const client = new ModernClient(CLIENT_INFO, { versionNegotiation: { mode: { pin: MODERN_REVISION } } });
  return session(transport, terminate, {
    setOnclose: (f) => (client.onclose = f),
    connect: () => client.connect(transport),
    close: () => client.close(),
    callTool: (params, timeoutMs) => client.callTool(params, { timeout: timeoutMs }),
  });
}

interface ClientOps {
  setOnclose(f: (() => void) | undefined): void;
  connect(): Promise<void>;
  close(): Promise<void>;
  callTool(params: ToolCallParams, timeoutMs: number): Promise<unknown>;
}

function session(transport: LegacyTransport | ModernTransport, terminate: () => Promise<void>, ops: ClientOps): SdkSession {
  const stdio = 'pid' in transport ? transport : undefined;
  return {
    callTool: (params, timeoutMs) => ops.callTool(params, timeoutMs),
    set onclose(f: (() => void) | undefined) {
      ops.setOnclose(f);
    },
    connect: () => ops.connect(),
    close: () => ops.close(),
    get pid() {
      return stdio?.pid ?? undefined;
    },
    get stderr() {
      return (stdio?.stderr as Readable | null | undefined) ?? null;
    },
    get child() {
      return (stdio as unknown as { _process?: unknown } | undefined)?._process;
    },
    terminateSession: terminate,
  };
}
