import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

export type AuditOutcome = 'ok' | 'error' | 'refused-by-policy' | 'rate-limited' | 'refused-by-approval';

/** One line of the audit log. Arguments are never recorded, only their SHA-256. */
export interface AuditRecord {
  time: string;
  server: string;
  subject: string | null;
  tool: string;
  argsSha256: string;
  outcome: AuditOutcome;
  durationMs: number;
  detail?: string;
}

/** A line that is not a call: an approval question, its answer, an alert. Never argument values. */
export interface AuditEventRecord {
  time: string;
  server: string;
  subject: string | null;
  event: 'approval-asked' | 'approval-answered' | 'alert';
  [field: string]: unknown;
}

/** SHA-256 of the JSON text of a tool call's arguments. */
export function hashArguments(args: unknown): string {
  return createHash('sha256').update(JSON.stringify(args ?? {})).digest('hex');
}

/** Append-only JSON-lines audit log, created 0600. Writes are serialized; failures are reported once. */
export class AuditLog {
  private chain: Promise<void> = Promise.resolve();

  private constructor(private readonly handle: FileHandle, private readonly onError: (err: Error) => void) {}

  /** Open (or create, mode 0600) the log for appending. */
  static async open(path: string, onError: (err: Error) => void): Promise<AuditLog> {
    // O_NOFOLLOW: a symlink planted at the path is refused (ELOOP), never followed to a file the log would append to and chmod.
    const handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o600);
    // An existing file keeps its owner's choice only if it is not wider than 0600.
    const st = await handle.stat();
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) await handle.chmod(0o600);
    return new AuditLog(handle, onError);
  }

  append(record: AuditRecord | AuditEventRecord): void {
    const line = JSON.stringify(record) + '\n';
    this.chain = this.chain.then(
      () => this.handle.appendFile(line).then(() => undefined),
    ).catch((err: Error) => this.onError(err));
  }

  async close(): Promise<void> {
    await this.chain;
    await this.handle.close();
  }
}
