/**
 * KeychainStore against the real Secret Service (gnome-keyring). Run under a private keyring:
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/store.keychain.test.ts
 *
 * The hang and locked-keyring cases start their own nested private keyring (scripts/with-keyring.sh
 * again) in a child process, so pausing or locking it cannot disturb other tests sharing the outer one.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { KeychainStore, type KeyringBinding } from '../../src/store/keychainStore.js';
import { openStore } from '../../src/store/openStore.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const withKeyring = path.join(repoRoot, 'scripts/with-keyring.sh');
const builtOpenStore = path.join(repoRoot, 'dist/src/store/openStore.js');
const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
const hasKeyringTools = ['dbus-run-session', 'gnome-keyring-daemon'].every((tool) =>
  (process.env.PATH ?? '').split(path.delimiter).some((dir) => existsSync(path.join(dir, tool))),
);

if (!hasSessionBus) {
  console.warn('store.keychain: no DBUS_SESSION_BUS_ADDRESS, skipping the Secret Service tests; run under `bash scripts/with-keyring.sh`.');
}

/** A JWT-shaped string (header.payload.signature, base64url) of about `size` characters. */
function jwtLike(size: number): string {
  const segment = (n: number) => randomBytes(Math.ceil((n * 3) / 4)).toString('base64url').slice(0, n);
  return `eyJ${segment(33)}.${segment(size - 80)}.${segment(43)}`;
}

function run(cmd: string, args: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} did not finish within ${opts.timeoutMs} ms; stderr: ${stderr}`));
    }, opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function requireBuild(): void {
  const source = path.join(repoRoot, 'src/store/keychainStore.ts');
  if (!existsSync(builtOpenStore) || statSync(builtOpenStore).mtimeMs < statSync(source).mtimeMs) {
    throw new Error('dist/ is missing or older than src/store; run `npx tsc -p tsconfig.json` first');
  }
}

/** Last JSON line a child printed on stdout. */
function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (line === undefined) throw new Error(`child printed no JSON result; stdout: ${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

describe.skipIf(!hasSessionBus)('KeychainStore on the real Secret Service', () => {
  const service = `mcp-keybridge-test-${randomUUID().slice(0, 8)}`;
  const otherService = `${service}-other`;
  let keyring: typeof import('@napi-rs/keyring');
  let store: KeychainStore;
  /** The Windows layout (parts of ≤ 2,560 bytes), exercised against the real Secret Service. */
  let partsStore: KeychainStore;
  const pin = { linux: { store: 'secret-service' as const } };

  beforeAll(async () => {
    keyring = await import('@napi-rs/keyring');
    store = (await openStore('keychain', { env: process.env, service, timeoutMs: 10_000 })) as KeychainStore;
    const binding = { AsyncEntry: keyring.AsyncEntry, findCredentialsAsync: keyring.findCredentialsAsync };
    partsStore = new KeychainStore({ keyring: binding, service, timeoutMs: 10_000, platform: 'win32' });
  });

  afterAll(async () => {
    for (const svc of [service, otherService]) {
      const leftovers = await keyring.findCredentialsAsync(svc).catch(() => []);
      for (const { account } of leftovers) await new keyring.AsyncEntry(svc, account, pin).deleteCredential().catch(() => false);
    }
  });

  const tokenSet = {
    access_token: jwtLike(4_500),
    id_token: jwtLike(4_500),
    refresh_token: jwtLike(2_400),
    token_type: 'Bearer',
    scope: 'openid profile offline_access mcp:tools',
    expires_at: 1_900_000_000_000,
    issuer: 'https://idp.example.test',
    subject_name: 'Zoë Ørsted 😀',
  };

  it('round-trips a 12 KB token set intact, inline and in the Windows layout', async () => {
    expect(JSON.stringify(tokenSet).length).toBeGreaterThan(11_500);
    await store.set('profile-a', tokenSet);
    expect(await store.get('profile-a')).toEqual(tokenSet);
    await partsStore.set('profile-a', tokenSet);
    expect(await partsStore.get('profile-a')).toEqual(tokenSet);
    expect(await store.get('profile-a')).toEqual(tokenSet); // either layout reads the other
    expect(await store.get('never-written')).toBeUndefined();
  });

  it('keeps a value in one entry where entries are not size-limited (one round trip to read)', async () => {
    await partsStore.set('profile-i', tokenSet);
    await store.set('profile-i', tokenSet);
    const accounts = (await keyring.findCredentialsAsync(service)).map((c) => c.account).filter((a) => a.startsWith('profile-i'));
    expect(accounts).toEqual(['profile-i']); // the parts of the earlier layout were removed
    expect(await store.get('profile-i')).toEqual(tokenSet);
    await store.delete('profile-i');
  });

  it('in the Windows layout, stores the value as parts of at most 2,560 bytes plus a manifest (checked with secret-tool)', async () => {
    await partsStore.set('profile-a', tokenSet);
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile('secret-tool', ['search', '--all', 'service', service], { timeout: 15_000, maxBuffer: 1 << 20 }, (error, out) =>
        error ? reject(error) : resolve({ stdout: out }),
      ),
    );
    // secret-tool prints attributes on stderr; the label ("keyring:<account>@<service>") and secret on stdout.
    const items = stdout
      .split(/^\[/m)
      .slice(1)
      .map((block) => ({
        account: /^label = keyring:(.*)@[^@\n]*$/m.exec(block)?.[1],
        secret: /^secret = (.*)$/m.exec(block)?.[1] ?? '',
      }));
    const accounts = items.map((item) => item.account).sort();
    const manifest = JSON.parse(items.find((item) => item.account === 'profile-a')?.secret ?? 'null') as { v: number; parts: number };
    expect(manifest).toMatchObject({ v: 1 });
    expect(manifest.parts).toBeGreaterThanOrEqual(10);
    const expected = ['profile-a', ...Array.from({ length: manifest.parts }, (_, i) => `profile-a#part${i}`)].sort();
    expect(accounts).toEqual(expected);
    for (const { secret } of items) {
      expect(Buffer.byteLength(secret, 'utf8')).toBeLessThanOrEqual(2_560);
      // Windows Credential Manager stores the password as UTF-16: the same part must fit there too.
      expect(Buffer.byteLength(secret, 'utf16le')).toBeLessThanOrEqual(2_560);
    }

    // Shrinking the value removes the parts it no longer needs.
    await partsStore.set('profile-a', { small: true });
    const remaining = (await keyring.findCredentialsAsync(service)).map((c) => c.account).sort();
    expect(remaining).toEqual(['profile-a', 'profile-a#part0']);
  });

  it('list() returns only the logical keys of this service; delete() leaves another service alone', async () => {
    await new keyring.AsyncEntry(otherService, 'profile-b', pin).setPassword('unrelated');
    await store.set('profile-a', tokenSet);
    await store.set('profile-b', { access_token: jwtLike(3_000) });
    expect(await store.list()).toEqual(['profile-a', 'profile-b']);

    expect(await store.delete('profile-b')).toBe(true);
    expect(await store.delete('profile-b')).toBe(false);
    expect(await store.list()).toEqual(['profile-a']);
    expect(await new keyring.AsyncEntry(otherService, 'profile-b', pin).getPassword()).toBe('unrelated');
    const ours = (await keyring.findCredentialsAsync(service)).map((c) => c.account);
    expect(ours.filter((a) => a.startsWith('profile-b'))).toEqual([]);
  });

  it('a damaged value is store_corrupt naming the key and the fix', async () => {
    const expectCorrupt = async () => {
      const error = await store.get('profile-c').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as StoreUnavailableError).code).toBe('store_corrupt');
      expect((error as Error).message).toContain(`${service}/profile-c`);
      expect((error as Error).message).toContain('mcp-keybridge logout');
    };
    // An inline value changed by someone else: checksum mismatch.
    await store.set('profile-c', tokenSet);
    const inline = JSON.parse((await new keyring.AsyncEntry(service, 'profile-c', pin).getPassword())!) as Record<string, unknown>;
    await new keyring.AsyncEntry(service, 'profile-c', pin).setPassword(JSON.stringify({ ...inline, inline: '{"tampered":true}' }));
    await expectCorrupt();
    // A part overwritten by someone else: checksum mismatch.
    await partsStore.set('profile-c', tokenSet);
    await new keyring.AsyncEntry(service, 'profile-c#part1', pin).setPassword('tampered');
    await expectCorrupt();
    // A part missing (an interrupted write or a partial delete).
    await partsStore.set('profile-c', tokenSet);
    await new keyring.AsyncEntry(service, 'profile-c#part2', pin).deleteCredential();
    await expectCorrupt();
    // A manifest that is not JSON.
    await new keyring.AsyncEntry(service, 'profile-c', pin).setPassword('{not json');
    await expectCorrupt();
    // Re-writing and deleting still work on a corrupt entry, which is what logout relies on.
    expect(await store.delete('profile-c')).toBe(true);
    expect(await store.get('profile-c')).toBeUndefined();
  });
});

describe.skipIf(!hasKeyringTools)('KeychainStore failure modes in a private nested keyring', () => {
  const childPrelude = `
    const { openStore } = await import(${JSON.stringify(pathToFileURL(builtOpenStore).href)});
    const report = (result) => console.log(JSON.stringify(result));
  `;

  it('a Secret Service that stops answering (daemon paused with SIGSTOP) gives store_timeout', async () => {
    requireBuild();
    const script = `${childPrelude}
      const pid = Number(process.env.MCP_KEYBRIDGE_KEYRING_PID);
      if (!pid) throw new Error('MCP_KEYBRIDGE_KEYRING_PID not set');
      const store = await openStore('keychain', { env: process.env, service: 'mcp-keybridge-hang-test', timeoutMs: 500 });
      await store.set('k', { token: 'x'.repeat(3000) });
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      try {
        await store.get('k');
        report({ code: 'no error', elapsedMs: Date.now() - started });
      } catch (error) {
        report({ code: error.code, name: error.name, message: error.message, elapsedMs: Date.now() - started });
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const after = await store.get('k');
      report({ recovered: after?.token?.length === 3000 });
    `;
    const result = await run('bash', [withKeyring, process.execPath, '--input-type=module', '-e', script], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ code: 'store_timeout', name: 'StoreUnavailableError' });
    expect(lines[0]?.message).toContain('did not answer');
    // Generous: the binding's constructor blocks for its own ~2 s D-Bus timeout before we can report.
    expect(lines[0]?.elapsedMs).toBeLessThan(15_000);
    expect(lines[1]).toEqual({ recovered: true });
  });

  it('openStore reports a locked keyring at once (store_locked) with the fix', async () => {
    requireBuild();
    const script = `${childPrelude}
      const { execFileSync } = await import('node:child_process');
      execFileSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.secrets', '/org/freedesktop/secrets',
        'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login'], { timeout: 10000 });
      try {
        await openStore('keychain', { env: process.env, service: 'mcp-keybridge-locked-test', timeoutMs: 8000 });
        report({ code: 'no error' });
      } catch (error) {
        report({ code: error.code, message: error.message });
      }
    `;
    const result = await run('bash', [withKeyring, process.execPath, '--input-type=module', '-e', script], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const outcome = lastJsonLine(result.stdout);
    expect(outcome.code).toBe('store_locked');
    expect(outcome.message).toMatch(/unlock/i);
    expect(outcome.message).toContain('--token-store file');
  });
});

describe('openStore without a reachable Secret Service', () => {
  it('reports store_missing at once with the fix', async () => {
    requireBuild();
    const script = `
      const { openStore } = await import(${JSON.stringify(pathToFileURL(builtOpenStore).href)});
      const started = Date.now();
      try {
        await openStore('keychain', { env: process.env, service: 'mcp-keybridge-missing-test', timeoutMs: 5000 });
        console.log(JSON.stringify({ code: 'no error' }));
      } catch (error) {
        console.log(JSON.stringify({ code: error.code, message: error.message, elapsedMs: Date.now() - started }));
      }
    `;
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/mcp-keybridge-test-bus' };
    const result = await run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 30_000, env });
    expect(result.code, result.stderr).toBe(0);
    const outcome = lastJsonLine(result.stdout);
    if (process.platform === 'linux') {
      expect(outcome.code).toBe('store_missing');
      expect(outcome.message).toContain('Secret Service');
      expect(outcome.message).toContain('--token-store file');
    }
  });
});

describe('KeychainStore deadline with an injected binding', () => {
  // The one test double in this file: a binding whose calls never settle, standing in for a
  // keychain that hangs on the async path (the real hang above blocks in the constructor first).
  const neverSettles: KeyringBinding = {
    AsyncEntry: class {
      getPassword = () => new Promise<string | null>(() => undefined);
      setPassword = () => new Promise<void>(() => undefined);
      deleteCredential = () => new Promise<boolean>(() => undefined);
    },
    findCredentialsAsync: () => new Promise(() => undefined),
  };

  it('every method gives store_timeout at the deadline', async () => {
    const store = new KeychainStore({ keyring: neverSettles, service: 'hang', timeoutMs: 150, platform: 'linux' });
    for (const call of [() => store.get('k'), () => store.set('k', { a: 1 }), () => store.delete('k'), () => store.list(), () => store.probe()]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as StoreUnavailableError).code).toBe('store_timeout');
    }
  });
});
