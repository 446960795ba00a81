import { writeSync } from 'node:fs';

/**
 * The file descriptor on which a bench gateway child reports that it listens: fd 3, a pipe of its
 * own, so the gateway's stdout (the SDK example logs every request there) can go to /dev/null.
 */
export const READY_FD = 3;

/** Write the one JSON line `{"url": ...}` the bench waits for. */
export function reportReady(info: { url: string }): void {
  writeSync(READY_FD, `${JSON.stringify(info)}\n`);
}
