/** The protocol revisions the bridge speaks, by era (2026-07-28 basic/versioning, "Terminology"). */

/** The modern (per-request metadata) revision the bridge speaks to a gateway. */
export const MODERN_VERSION = '2026-07-28';
export const MODERN_VERSIONS: readonly string[] = [MODERN_VERSION];

/** The legacy (initialize-based) revisions a 2025-era IDE may ask for, newest first. */
export const LEGACY_VERSIONS: readonly string[] = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

/** Reserved `_meta` keys (2026-07-28 basic/index, "_meta"). */
export const MetaKeys = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/**
 * The legacy revision to answer a 2025 IDE's initialize with: the one it asked for when the
 * bridge can serve it, else the newest legacy revision (the IDE then decides, as with any server).
 */
export function legacyVersionFor(requested: unknown): string {
  return typeof requested === 'string' && LEGACY_VERSIONS.includes(requested) ? requested : LEGACY_VERSIONS[0]!;
}

/** The modern revision to use from a server's supported list, or undefined when none is ours. */
export function pickModernVersion(supported: readonly string[]): string | undefined {
  return MODERN_VERSIONS.find((v) => supported.includes(v));
}
