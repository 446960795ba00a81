import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockName } from '../../src/auth/profile.js';
import { lockFilePath, OWN_LOCK_FILE_NAME } from '../../src/store/crossProcessLock.js';

describe('OWN_LOCK_FILE_NAME (what cache clear may remove from the lock directory)', () => {
  it('matches every name lockFilePath makes, with its .break guard and .stale- aside', () => {
    const names = [lockName('refresh', 'session:https://gw.example/mcp'), lockName('signin', 'x'), 'file-store /home/u/.config/mcp-keybridge/tokens.json', 'budget ledger ✓ with spaces', 'a'.repeat(200)];
    for (const name of names) {
      const file = path.basename(lockFilePath('/locks', name));
      expect(OWN_LOCK_FILE_NAME.test(file), file).toBe(true);
      expect(OWN_LOCK_FILE_NAME.test(`${file}.break`)).toBe(true);
      expect(OWN_LOCK_FILE_NAME.test(`${file}.stale-${randomUUID()}`)).toBe(true);
    }
  });

  it('does not match other programs\' files that happen to end in .lock', () => {
    for (const file of ['someone-else.lock', 'package.lock', 'yarn.lock', `x-${'0'.repeat(23)}.lock`, `x-${'0'.repeat(24)}.lock.bak`, `x-${'0'.repeat(24)}.lock.stale-../../etc`, 'notes.txt']) {
      expect(OWN_LOCK_FILE_NAME.test(file), file).toBe(false);
    }
  });
});
