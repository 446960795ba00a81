import { FileEraCache, type CachedEra } from './eraCache.js';

/** The protocol era remembered for a server, as `status --json` shows it. */
export interface EraStatus {
  era: 'legacy' | 'modern';
  /** 2026-07-28 for a modern server; null for a 2025-era one (its revision is agreed per session). */
  version: string | null;
  checkedAt: string;
}

/** The eras remembered for these servers (only those known), keyed by server URL. */
export async function rememberedEras(configDir: string, servers: readonly string[]): Promise<Record<string, EraStatus>> {
  const cache = new FileEraCache(configDir);
  const out: Record<string, EraStatus> = {};
  for (const server of new Set(servers)) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      continue;
    }
    const cached = await cache.read(url);
    if (cached) out[server] = eraStatus(cached);
  }
  return out;
}

export function eraStatus(c: CachedEra): EraStatus {
  return { era: c.era, version: c.era === 'modern' ? (c.version ?? null) : null, checkedAt: new Date(c.checkedAt).toISOString() };
}

/** doctor's line: which era the server speaks, as last detected by a bridge (skip when not yet known). */
export async function rememberedEraCheck(configDir: string, server: URL): Promise<{ name: string; status: 'ok' | 'skip'; detail: string }> {
  const name = 'protocol era';
  const cached = await new FileEraCache(configDir).read(server);
  if (!cached) return { name, status: 'skip', detail: 'not detected yet: a bridge detects it at its first start (server/discover); --protocol 2025|2026 forces it' };
  const when = new Date(cached.checkedAt).toISOString();
  return cached.era === 'modern'
    ? { name, status: 'ok', detail: `MCP ${cached.version ?? '2026-07-28'}, stateless (detected ${when}): 2025 clients are translated` }
    : { name, status: 'ok', detail: `a 2025 revision, initialize + session (detected ${when}): relayed as it is` };
}
