import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ensurePrivateDir } from './paths.js';

/**
 * A hint, kept next to the tool's other files, of which keys the keychain holds for a service —
 * names only, never values. It lets the bridge skip loading the keychain module (and its D-Bus
 * round trips, ~8 MiB of memory) at start-up for a gateway it holds no session for. It is only a
 * hint: a key missing from it costs one extra round trip (the gateway's 401 then loads the store).
 */
export class KeychainIndex {
  constructor(
    private readonly dir: string,
    private readonly service: string,
  ) {}

  private get file(): string {
    return path.join(this.dir, `keychain-${this.service.replace(/[^A-Za-z0-9._-]/g, '_')}.keys.json`);
  }

  /** The keys recorded, or undefined when there is no usable index (then nothing can be skipped). */
  async read(): Promise<Set<string> | undefined> {
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as { v?: unknown; keys?: unknown };
      if (parsed.v !== 1 || !Array.isArray(parsed.keys)) return undefined;
      return new Set(parsed.keys.filter((k): k is string => typeof k === 'string'));
    } catch {
      return undefined;
    }
  }

  /** Record that key is stored / removed. Best effort: a failure leaves a stale hint, never an error. */
  async update(key: string, present: boolean): Promise<void> {
    try {
      const keys = (await this.read()) ?? new Set<string>();
      if (keys.has(key) === present) return;
      if (present) keys.add(key);
      else keys.delete(key);
      await ensurePrivateDir(this.dir);
      const tmp = `${this.file}.${randomUUID()}.tmp`;
      await writeFile(tmp, JSON.stringify({ v: 1, keys: [...keys].sort() }), { mode: 0o600 });
      await rename(tmp, this.file).catch(async (err: unknown) => {
        await unlink(tmp).catch(() => undefined);
        throw err;
      });
    } catch {
      // a hint only
    }
  }
}
