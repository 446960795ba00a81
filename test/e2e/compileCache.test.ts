import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, type Gateway } from '../../scripts/lab/gateway.js';
import { assertStdoutIsJsonRpc, BIN, spawnBridge } from './harness/bridgeProcess.js';

/**
 * The code cache bin/compileCache.js keeps for the bundle's entry on a Node without
 * module.enableCompileCache (the Node 20 this suite runs on): a real bridge session against the lab
 * leaves one cache file in the user's private folder, the next session starts from it (V8 takes
 * it: the file is not written again), and a damaged, foreign or linked file never breaks a start:
 * it is not trusted, and a good one replaces it.
 */

const ourCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache !== 'function';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function gateway(): Promise<Gateway> {
  const gw = await startGateway({ auth: { mode: 'none' } });
  cleanups.push(() => gw.close());
  return gw;
}

/** The first byte of a cache file: 1 when a run that lived long enough wrote it (the bridge's full start). */
const FULL = 1;
const FULL_WAIT_MS = 30_000;

/**
 * One bridge session (initialize, one call, stdin closed) with this config home; its stdout is
 * checked to be JSON-RPC only. untilFull: kept open until a full cache file is there (bounded).
 */
async function session(url: string, home: string, untilFull = false): Promise<void> {
  const b = spawnBridge([url], { env: { MCP_KEYBRIDGE_HOME: home, NODE_DISABLE_COMPILE_CACHE: undefined } });
  cleanups.push(() => b.kill());
  const client = new Client({ name: 'compile-cache-test', version: '1.0.0' });
  await client.connect(b.transport());
  const echoed = await client.callTool({ name: 'echo', arguments: { text: 'cached' } });
  expect(JSON.stringify(echoed.content)).toContain('cached');
  if (untilFull) {
    const deadline = Date.now() + FULL_WAIT_MS;
    while (!cacheFiles(home).some((f) => readFileSync(f)[0] === FULL) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  await client.close();
  expect(await b.exited).toBe(0);
  assertStdoutIsJsonRpc(b.stdout());
  expect(b.stderr()).not.toMatch(/cache/i);
}

function cacheFiles(home: string): string[] {
  const dir = path.join(home, 'compile-cache');
  try {
    return readdirSync(dir).map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

function privateHome(): string {
  const home = mkdtempSync(path.join(tmpdir(), 'keybridge-compile-cache-'));
  cleanups.push(async () => rmSync(home, { recursive: true, force: true }));
  return home;
}

describe.runIf(ourCache)('the Node 20 code cache of the entry (bin/compileCache.js)', () => {
  it('is written by a bridge session, privately, and used by the next one', async () => {
    const gw = await gateway();
    const home = privateHome();
    await session(gw.url, home, true);
    const files = cacheFiles(home);
    expect(files).toHaveLength(1);
    expect(readFileSync(files[0]!)[0]).toBe(FULL);
    expect(files[0]).toMatch(/[0-9a-f]{32}\.bin$/);
    expect(statSync(path.dirname(files[0]!)).mode & 0o777).toBe(0o700);
    expect(statSync(files[0]!).mode & 0o777).toBe(0o600);
    const first = readFileSync(files[0]!);
    const written = statSync(files[0]!).mtimeMs;
    await session(gw.url, home);
    // V8 took it: a rejected cache would have been written again at exit.
    expect(cacheFiles(home)).toEqual(files);
    expect(statSync(files[0]!).mtimeMs).toBe(written);
    expect(readFileSync(files[0]!).equals(first)).toBe(true);
    // `cache clear` removes it with the rest of what the tool stored.
    const cleared = spawnSync(process.execPath, [BIN, 'cache', 'clear', '--yes', '--token-store', 'file'], { env: { ...process.env, MCP_KEYBRIDGE_HOME: home }, encoding: 'utf8' });
    expect(cleared.status, cleared.stderr).toBe(0);
    expect(cleared.stdout).toMatch(/compile cache/);
    expect(existsSync(path.dirname(files[0]!))).toBe(false);
  });

  it('starts from source when a byte of the file is damaged, and replaces it with a good one', async () => {
    const gw = await gateway();
    const home = privateHome();
    await session(gw.url, home, true);
    const [file] = cacheFiles(home);
    const good = readFileSync(file!);
    // One byte of V8's data changed (release V8 does not notice that itself): the checksum does.
    const damaged = Buffer.from(good);
    const at = Math.floor(damaged.length * 0.6);
    damaged[at] = damaged[at]! ^ 0x01;
    writeFileSync(file!, damaged);
    await session(gw.url, home);
    const again = readFileSync(file!);
    expect(again.length).toBeGreaterThan(33);
    expect(again.equals(damaged)).toBe(false);
  });

  it('is not read through a symbolic link, nor kept in a folder others can write to', async () => {
    const gw = await gateway();
    const home = privateHome();
    await session(gw.url, home, true);
    const [file] = cacheFiles(home);
    const elsewhere = path.join(home, 'elsewhere.bin');
    renameSync(file!, elsewhere);
    symlinkSync(elsewhere, file!);
    await session(gw.url, home);
    // Not followed: the link was replaced by a file of the bridge's own; what it pointed to is untouched.
    expect(lstatSync(file!).isSymbolicLink()).toBe(false);
    expect(readFileSync(elsewhere).length).toBeGreaterThan(33);
    // A folder writable by others is left alone: nothing read from it, nothing written to it.
    const dir = path.dirname(file!);
    rmSync(file!);
    chmodSync(dir, 0o777);
    await session(gw.url, home, false);
    expect(existsSync(file!)).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)("does not read another user's file: a start replaces it with its own", async () => {
    const gw = await gateway();
    const home = privateHome();
    await session(gw.url, home, true);
    const [file] = cacheFiles(home);
    chownSync(file!, 65534, 65534);
    await session(gw.url, home);
    expect(statSync(file!).uid).toBe(0);
  });
});
