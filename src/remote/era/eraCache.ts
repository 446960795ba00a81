import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** What was last learned about a gateway's protocol era (not a secret: no tokens, no ids). */
export interface CachedEra {
  era: 'legacy' | 'modern';
  /** The modern revision in use, for era modern. */
  version?: string;
  /** When it was learned (ms since the epoch). */
  checkedAt: number;
}

/** Where eras are remembered between runs, per server URL. */
export interface EraCache {
  read(url: URL): Promise<CachedEra | undefined>;
  /** Record (or with undefined, forget) the era of a server. Best effort: never throws. */
  write(url: URL, era: CachedEra | undefined): Promise<void>;
}

/** The file the eras are kept in, inside the tool's config directory. */
export const ERA_CACHE_FILE = 'protocol-eras.json';
const MAX_ENTRIES = 64;

/**
 * The era cache as one small JSON file in the store's directory, written atomically (temp file +
 * rename). A file that cannot be read or parsed is an empty cache: the bridge probes again.
 */
export class FileEraCache implements EraCache {
  constructor(private readonly dir: string) {}

  async read(url: URL): Promise<CachedEra | undefined> {
    const entry = (await this.load())[keyOf(url)];
    if (!entry || (entry.era !== 'legacy' && entry.era !== 'modern') || typeof entry.checkedAt !== 'number') return undefined;
    return entry;
  }

  async write(url: URL, era: CachedEra | undefined): Promise<void> {
    try {
      const all = await this.load();
      if (era) all[keyOf(url)] = era;
      else delete all[keyOf(url)];
      // Bounded: the servers seen most recently are kept.
      const keys = Object.keys(all).sort((a, b) => (all[b]?.checkedAt ?? 0) - (all[a]?.checkedAt ?? 0));
      for (const k of keys.slice(MAX_ENTRIES)) delete all[k];
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const file = path.join(this.dir, ERA_CACHE_FILE);
      const temp = `${file}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
      await rename(temp, file);
    } catch {
      // A cache: the next run probes again.
    }
  }

  private async load(): Promise<Record<string, CachedEra>> {
    try {
      const value = JSON.parse(await readFile(path.join(this.dir, ERA_CACHE_FILE), 'utf8')) as unknown;
      return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, CachedEra>) : {};
    } catch {
      return {};
    }
  }
}

/** The era is a property of the server at this URL (without a fragment). */
function keyOf(url: URL): string {
  const u = new URL(url.href);
  u.hash = '';
  return u.href;
}
