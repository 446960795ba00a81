/**
 * Secret hygiene, end to end: a whole sign-in, refreshes past a short access-token lifetime and
 * several tool calls through the built CLI with --debug, --audit-log and a --header secret taken
 * from the environment. Afterwards every credential the identity provider issued or saw (access,
 * refresh and ID tokens, authorization codes, PKCE verifiers, client secrets, registration access
 * tokens) plus the header secret is searched for, byte for byte, in the bridge's stdout, stderr,
 * the audit log and every file under MCP_KEYBRIDGE_HOME except the chosen token store file.
 * The keychain case needs the private Secret Service: run under `bash scripts/with-keyring.sh`.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startLab, type Lab } from '../../scripts/lab/lab.js';
import type { Idp } from '../../scripts/lab/idp.js';
import { BIN, assertStdoutIsJsonRpc, spawnBridge } from './harness/bridgeProcess.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPTED_BROWSER = path.join(repoRoot, 'dist/scripts/lab/scriptedBrowser.js');
const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
const ACCESS_TOKEN_TTL_S = 3;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** Every file and directory under dir (not following symlinks). */
async function walk(dir: string): Promise<{ files: string[]; dirs: string[] }> {
  const out = { files: [] as string[], dirs: [dir] };
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = await walk(p);
      out.files.push(...sub.files);
      out.dirs.push(...sub.dirs);
    } else {
      out.files.push(p);
    }
  }
  return out;
}

/** Every credential the IdP issued or was shown, with where it came from. */
function idpSecrets(idp: Idp): { label: string; value: string }[] {
  const out: { label: string; value: string }[] = [];
  const add = (label: string, value: unknown): void => {
    if (typeof value === 'string' && value.length >= 8) out.push({ label, value });
  };
  idp.record.tokenResponses.forEach((r, i) => {
    add(`access_token #${i}`, r.access_token);
    add(`refresh_token #${i}`, r.refresh_token);
    add(`id_token #${i}`, r.id_token);
  });
  idp.record.tokenRequests.forEach((r, i) => {
    add(`code sent #${i}`, r.code);
    add(`code_verifier #${i}`, r.code_verifier);
    add(`refresh_token sent #${i}`, r.refresh_token);
    add(`client_secret sent #${i}`, r.client_secret);
  });
  idp.record.authorizationCodes.forEach((c, i) => add(`authorization code #${i}`, c));
  idp.record.registrationResponses.forEach((r, i) => {
    add(`client_secret #${i}`, r.client_secret);
    add(`registration_access_token #${i}`, r.registration_access_token);
  });
  add('service client secret', idp.serviceClient.clientSecret);
  return out;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface RunResult {
  lab: Lab & { idp: Idp };
  home: string;
  auditLog: string;
  apiKey: string;
  outputs: { name: string; text: string }[];
  env: NodeJS.ProcessEnv;
}

/** Sign in, call, wait past expiry, call again (refreshing), exit — with every secret-revealing flag on. */
async function signInRefreshAndCall(storeKind: 'file' | 'keychain'): Promise<RunResult> {
  const lab = (await startLab({ auth: 'oauth', accessTokenTtl: ACCESS_TOKEN_TTL_S })) as Lab & { idp: Idp };
  cleanups.push(() => lab.close());
  const root = await mkdtemp(path.join(tmpdir(), 'kb-secrets-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  // Not created here: the tool creates its home, so its modes are the tool's choice.
  const home = path.join(root, 'home');
  const auditLog = path.join(root, 'audit.jsonl');
  const apiKey = `lab-api-key-${Math.random().toString(36).slice(2)}${Date.now()}`;
  const env: NodeJS.ProcessEnv = {
    MCP_KEYBRIDGE_HOME: home,
    LAB_KEY: apiKey,
    BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`,
    MCP_KEYBRIDGE_DEBUG: '1',
  };
  const b = spawnBridge([lab.gateway.url, '--debug', '--audit-log', auditLog, '--header', 'X-Api-Key: ${LAB_KEY}', '--token-store', storeKind, '--scope', 'openid email mcp:tools'], { env });
  cleanups.push(() => b.kill());
  const client = new Client({ name: 'secrets-e2e', version: '1.0.0' });
  await client.connect(b.transport());
  expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  expect(await client.callTool({ name: 'echo', arguments: { text: 'one' } })).toMatchObject({ content: [{ text: 'one' }] });
  // Bounded wait past the access token's expiry: the next calls must refresh.
  await new Promise((r) => setTimeout(r, (ACCESS_TOKEN_TTL_S + 1) * 1000));
  expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).toMatchObject({ content: [{ text: '3' }] });
  expect(await client.callTool({ name: 'echo', arguments: { text: 'two' } })).toMatchObject({ content: [{ text: 'two' }] });
  await client.close();
  expect(await b.exited).toBe(0);
  assertStdoutIsJsonRpc(b.stdout());

  const grants = lab.idp.record.tokenRequests.map((r) => r.grant_type);
  expect(grants.filter((g) => g === 'authorization_code')).toHaveLength(1);
  expect(grants.filter((g) => g === 'refresh_token').length).toBeGreaterThanOrEqual(1);
  return {
    lab,
    home,
    auditLog,
    apiKey,
    env,
    outputs: [
      { name: 'stdout', text: b.stdout() },
      { name: 'stderr', text: b.stderr() },
    ],
  };
}

/** Search every scanned byte for every secret; report hits as "secret label in place". */
async function findLeaks(r: RunResult, exclude: string[]): Promise<{ hits: string[]; scanned: string[] }> {
  const secrets = [...idpSecrets(r.lab.idp), { label: 'X-Api-Key header value', value: r.apiKey }];
  const places: { name: string; bytes: Buffer }[] = r.outputs.map((o) => ({ name: o.name, bytes: Buffer.from(o.text, 'utf8') }));
  places.push({ name: 'audit log', bytes: await readFile(r.auditLog) });
  const { files } = await walk(r.home);
  for (const f of files) {
    if (exclude.includes(f)) continue;
    places.push({ name: path.relative(r.home, f), bytes: await readFile(f) });
  }
  const hits: string[] = [];
  for (const s of secrets) {
    for (const p of places) {
      if (p.bytes.includes(s.value) || p.bytes.includes(encodeURIComponent(s.value))) hits.push(`${s.label} in ${p.name}`);
    }
  }
  return { hits, scanned: places.map((p) => p.name) };
}

async function expectPrivateModes(r: RunResult): Promise<void> {
  const { files, dirs } = await walk(r.home);
  for (const d of dirs) expect({ dir: path.relative(r.home, d) || '.', mode: ((await lstat(d)).mode & 0o777).toString(8) }).toEqual({ dir: path.relative(r.home, d) || '.', mode: '700' });
  for (const f of [...files, r.auditLog]) expect({ file: f, mode: ((await lstat(f)).mode & 0o777).toString(8) }).toEqual({ file: f, mode: '600' });
}

describe('no credential leaks out of the token store', () => {
  it('file store: sign-in, refresh and calls with --debug, --audit-log and --header leave no secret anywhere but tokens.json', async () => {
    const r = await signInRefreshAndCall('file');
    const tokensFile = path.join(r.home, 'tokens.json');
    const secrets = idpSecrets(r.lab.idp);
    // The scan has something to find: codes, verifiers, several access and refresh tokens.
    expect(secrets.filter((s) => s.label.startsWith('authorization code')).length).toBeGreaterThanOrEqual(1);
    expect(secrets.filter((s) => s.label.startsWith('code_verifier')).length).toBe(1);
    expect(secrets.filter((s) => s.label.startsWith('access_token')).length).toBeGreaterThanOrEqual(2);
    expect(secrets.filter((s) => s.label.startsWith('id_token')).length).toBeGreaterThanOrEqual(1);
    expect(r.lab.idp.record.authorizationCodes).toEqual(r.lab.idp.record.tokenRequests.map((t) => t.code).filter(Boolean));
    // The store itself holds the latest tokens (so the exclusion below is the right file).
    const stored = await readFile(tokensFile, 'utf8');
    expect(stored).toContain(r.lab.idp.record.tokenResponses.at(-1)!.access_token);

    const { hits, scanned } = await findLeaks(r, [tokensFile]);
    expect(scanned).toEqual(expect.arrayContaining(['stdout', 'stderr', 'audit log']));
    expect(hits).toEqual([]);
    // The scanner itself works: without the exclusion it finds the store's tokens.
    expect((await findLeaks(r, [])).hits).toEqual(expect.arrayContaining([expect.stringMatching(/^refresh_token #\d+ in tokens\.json$/)]));
    await expectPrivateModes(r);
  });

  it.skipIf(!hasSessionBus)('keychain store: the same run leaves no secret in any file, output or log', async () => {
    const r = await signInRefreshAndCall('keychain');
    const { files } = await walk(r.home);
    expect(files.map((f) => path.basename(f))).not.toContain('tokens.json');

    // The session really is in the keychain: logout finds and removes it.
    const logout = await run(['logout', r.lab.gateway.url, '--token-store', 'keychain', '--scope', 'openid email mcp:tools'], r.env);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toMatch(/Signed out of/);
    r.outputs.push({ name: 'logout stdout', text: logout.stdout }, { name: 'logout stderr', text: logout.stderr });

    const { hits } = await findLeaks(r, []);
    expect(hits).toEqual([]);
    await expectPrivateModes(r);
  });
});
