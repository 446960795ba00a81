import { randomUUID } from 'node:crypto';
import { open, rename, stat, unlink, chmod } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../deps.js';
import { StoreUnavailableError } from '../errors.js';
import type { TokenStore } from './tokenStore.js';
import { withLock } from './crossProcessLock.js';
import { sleep } from './deadline.js';
import { ensurePrivateDir, fileSystemFailure, hasPosixModes } from './paths.js';

export const TOKEN_FILE_NAME = 'tokens.json';
const DOCUMENT_VERSION = 1;
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

export interface FileStoreOptions {
  /** The tool's config directory (see configDir()); created 0700. */
  dir: string;
  fileName?: string;
  /** Where the read-modify-write lock lives; default <dir>/locks. */
  lockDir?: string;
  /** How long a write waits for another process's write. Default 10 s. */
  lockTimeoutMs?: number;
  platform?: NodeJS.Platform;
  clock?: Clock;
}

interface TokenDocument {
  v: typeof DOCUMENT_VERSION;
  entries: Record<string, unknown>;
}

/**
 * TokenStore in one JSON file (explicit opt-in): file 0600 in a 0700 directory, replaced atomically
 * (temp file + rename) so a failed or interrupted write leaves the previous file intact. Writes from
 * several processes are serialised by a cross-process lock so none is lost.
 */
export class FileStore implements TokenStore {
  readonly kind = 'file' as const;
  readonly location: string;
  readonly file: string;
  private readonly dir: string;
  private readonly lockDir: string;
  private readonly lockTimeoutMs: number;
  private readonly posix: boolean;
  private readonly clock: Clock | undefined;

  constructor(opts: FileStoreOptions) {
    this.dir = opts.dir;
    this.file = path.join(opts.dir, opts.fileName ?? TOKEN_FILE_NAME);
    this.lockDir = opts.lockDir ?? path.join(opts.dir, 'locks');
    this.lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.posix = hasPosixModes(opts.platform ?? process.platform);
    this.clock = opts.clock;
    this.location = `file ${this.file}`;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const document = await this.read();
    return Object.hasOwn(document.entries, key) ? (document.entries[key] as T) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    if (JSON.stringify(value) === undefined) {
      throw new StoreUnavailableError(`Cannot store ${key}: the value is not JSON-serialisable.`, 'store_bad_value');
    }
    await this.update((entries) => {
      entries[key] = value;
      return true;
    });
  }

  async delete(key: string): Promise<boolean> {
    return this.update((entries) => {
      if (!Object.hasOwn(entries, key)) return false;
      delete entries[key];
      return true;
    });
  }

  async list(): Promise<string[]> {
    return Object.keys((await this.read()).entries).sort();
  }

  /** Read-modify-write under the cross-process lock; `change` returns false when nothing changed. */
  private async update(change: (entries: Record<string, unknown>) => boolean): Promise<boolean> {
    await ensurePrivateDir(this.dir);
    return withLock(`file-store ${this.file}`, { dir: this.lockDir, timeoutMs: this.lockTimeoutMs, clock: this.clock }, async () => {
      const document = await this.read();
      if (!change(document.entries)) return false;
      await this.writeAtomically(document);
      return true;
    });
  }

  private async read(): Promise<TokenDocument> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { v: DOCUMENT_VERSION, entries: {} };
      throw fileSystemFailure(`read ${this.file}`, error);
    }
    let raw: string;
    try {
      await this.checkPermissions(handle);
      raw = await handle.readFile('utf8');
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw fileSystemFailure(`read ${this.file}`, error);
    } finally {
      await handle.close().catch(() => undefined);
    }
    return this.parse(raw);
  }

  /** Tokens must stay private even if someone (or a restore from backup) loosened the modes: fix, or refuse. */
  private async checkPermissions(handle: import('node:fs/promises').FileHandle): Promise<void> {
    if (!this.posix) return;
    const info = await handle.stat();
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) {
      throw new StoreUnavailableError(
        `${this.file} belongs to another user (uid ${info.uid}); refusing to read tokens from it. Remove it or fix its owner.`,
        'store_insecure',
      );
    }
    try {
      if ((info.mode & 0o077) !== 0) await handle.chmod(0o600);
      const dirInfo = await stat(this.dir);
      if ((dirInfo.mode & 0o077) !== 0) await chmod(this.dir, 0o700);
    } catch (error) {
      throw new StoreUnavailableError(
        `${this.file} or its directory is readable by other users and could not be made private (${(error as Error).message}). Run \`chmod 700 ${this.dir} && chmod 600 ${this.file}\`.`,
        'store_insecure',
        error,
      );
    }
  }

  private parse(raw: string): TokenDocument {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw this.corrupt('it is not valid JSON');
    }
    const entries = (parsed as Partial<TokenDocument> | null)?.entries;
    if ((parsed as Partial<TokenDocument> | null)?.v !== DOCUMENT_VERSION || typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
      throw this.corrupt(`it is not a version ${DOCUMENT_VERSION} token file`);
    }
    return { v: DOCUMENT_VERSION, entries: entries as Record<string, unknown> };
  }

  /** Write a private temp file next to the target, flush it, then rename over the target. */
  private async writeAtomically(document: TokenDocument): Promise<void> {
    const temp = path.join(this.dir, `.${path.basename(this.file)}.${randomUUID()}.tmp`);
    let handle;
    try {
      handle = await open(temp, 'wx', 0o600);
      // The open mode is filtered by the umask; set it explicitly so it is exactly 0600.
      if (this.posix) await handle.chmod(0o600);
      await handle.writeFile(`${JSON.stringify(document, null, 2)}\n`);
      await handle.sync();
      await handle.close();
      handle = undefined;
      await this.replace(temp);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw fileSystemFailure(`save tokens to ${this.file} (the previous contents are unchanged)`, error);
    }
    await this.syncDirectory();
  }

  private async replace(temp: string): Promise<void> {
    // Windows refuses to replace a file another process has open for a moment (antivirus, a reader).
    const attempts = this.posix ? 1 : 5;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await rename(temp, this.file);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (attempt >= attempts || (code !== 'EPERM' && code !== 'EACCES' && code !== 'EBUSY')) throw error;
        await sleep(20 * attempt);
      }
    }
  }

  /** Make the rename itself durable; best effort (not possible on Windows, harmless to skip). */
  private async syncDirectory(): Promise<void> {
    if (!this.posix) return;
    const handle = await open(this.dir, 'r').catch(() => undefined);
    await handle?.sync().catch(() => undefined);
    await handle?.close().catch(() => undefined);
  }

  private corrupt(why: string): StoreUnavailableError {
    return new StoreUnavailableError(
      `The token file ${this.file} is corrupt: ${why}. Run \`mcp-keybridge cache clear\` or delete the file, then sign in again.`,
      'store_corrupt',
    );
  }
}
