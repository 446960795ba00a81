import { StoreUnavailableError } from '../errors.js';
import type { TokenStore } from './tokenStore.js';

/** TokenStore kept in this process only (tests, one-shot runs). Values are copied in and out as JSON, like the real backends. */
export class MemoryStore implements TokenStore {
  readonly kind = 'memory' as const;
  readonly location = 'memory (this process only; nothing is saved)';
  private readonly entries = new Map<string, string>();

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const text = this.entries.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    if (text === undefined) throw new StoreUnavailableError(`Cannot store ${key}: the value is not JSON-serialisable.`, 'store_bad_value');
    this.entries.set(key, text);
  }

  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }

  async list(): Promise<string[]> {
    return [...this.entries.keys()].sort();
  }
}
