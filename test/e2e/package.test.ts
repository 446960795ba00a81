import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startLab, LAB_STATIC_TOKEN, type Lab } from '../../scripts/lab/lab.js';
import { REPO_ROOT } from './harness/labFleet.js';

/**
 * The package as users get it: packed from a clean copy of the committed tree (prepack builds
 * it), installed into an empty prefix with `npm install <tarball>` (no dev dependencies), and run
 * from there — and through `npx -y <tarball>`, the line every client entry uses.
 */

const run = promisify(execFile);
const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

let root: string;
let tarball: string;
let prefix: string;
let lab: Lab;
const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kb-pack-'));
  const tree = path.join(root, 'tree');
  // A clean copy: what is committed (KB_PACK_TREE=worktree: the files as they are now, untracked
  // ones too but not ignored ones, to check a change before committing it), nothing built. Its dev dependencies (tsc) come from this checkout.
  const copy =
    process.env.KB_PACK_TREE === 'worktree'
      ? 'mkdir -p "$1" && cd "$2" && git ls-files -z -c -o --exclude-standard | tar --null -T - -c | tar -x -C "$1"'
      : 'mkdir -p "$1" && git -C "$2" archive HEAD | tar -x -C "$1"';
  await run('bash', ['-c', copy, '-', tree, REPO_ROOT]);
  await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(tree, 'node_modules'), 'dir');
  const packed = await run('npm', ['pack', '--pack-destination', root, '--json', '--loglevel=error'], { cwd: tree, maxBuffer: 16 << 20 }).catch((err: { stdout?: string }) => {
    // prepack's tsc reports on stdout: say why the clean tree did not build.
    throw new Error(`npm pack failed in a clean copy of the tree:\n${(err.stdout ?? '').slice(-4000)}`);
  });
  const info = JSON.parse(packed.stdout) as { filename: string }[];
  tarball = path.join(root, info[0]!.filename);
  prefix = path.join(root, 'prefix');
  await run('npm', ['install', '--prefix', prefix, tarball, ...NPM_FLAGS], { cwd: root, maxBuffer: 16 << 20 });
  lab = await startLab({ auth: 'static' });
}, 240_000);

afterAll(async () => {
  await lab?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A real SDK client session through a bridge started as `command args`; returns the tool names and an echo. */
async function session(command: string, args: string[], cwd: string): Promise<{ tools: string[]; echoed: unknown; stderr: string }> {
  const transport = new StdioClientTransport({ command, args, cwd, env: { ...(process.env as Record<string, string>), GW_TOKEN: LAB_STATIC_TOKEN }, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const client = new Client({ name: 'package-e2e', version: '1.0.0' });
  try {
    await client.connect(transport, { timeout: 90_000 });
    const tools = (await client.listTools()).tools.map((t) => t.name);
    const echoed = (await client.callTool({ name: 'echo', arguments: { text: 'from the tarball' } })).content;
    return { tools, echoed, stderr };
  } catch (err) {
    throw new Error(`${(err as Error).message}\nbridge stderr:\n${stderr}`);
  } finally {
    await client.close().catch(() => undefined);
  }
}

describe('the published package', () => {
  it('holds exactly what runs: the CLI entry, the bundle (scripts/bundle.mjs), package.json and the README', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    expect(files).toContain('bin/mcp-keybridge.js');
    // Both folders are CommonJS (scripts/bundleCommonJs.mjs): without these the files would load as ESM and fail.
    expect(files).toContain('bin/package.json');
    expect(files).toContain('dist/bundle/package.json');
    expect(files).toContain('dist/bundle/mcp-keybridge.js');
    expect(files.some((f) => f.startsWith('dist/bundle/chunks/'))).toBe(true);
    expect(files).toContain('package.json');
    const unexpected = files.filter((f) => !(f === 'bin/mcp-keybridge.js' || f === 'package.json' || f === 'bin/package.json' || f === 'bin/compileCache.js' || f === 'dist/bundle/package.json' || /^(README|LICENSE)/i.test(f) || /^dist\/bundle\/.+\.js$/.test(f)));
    expect(unexpected).toEqual([]);
  });

  it('installed into an empty prefix: --version, --help, and a bridge session against the lab', async () => {
    const bin = path.join(prefix, 'node_modules', '.bin', 'mcp-keybridge');
    expect((await run(bin, ['--version'])).stdout.trim()).toBe(pkg.version);
    const help = await run(bin, ['--help']);
    expect(help.stdout).toMatch(/login/);
    expect(help.stdout).toMatch(/config/);
    // Only the runtime dependencies were installed.
    await expect(readFile(path.join(prefix, 'node_modules', 'typescript', 'package.json'))).rejects.toThrow();
    const s = await session(bin, [lab.gateway.url, '--bearer-env', 'GW_TOKEN', '--token-store', 'memory'], root);
    expect(s.tools).toContain('echo');
    expect(JSON.stringify(s.echoed)).toContain('from the tarball');
  });

  it('npx -y <tarball> <url> runs the bridge', async () => {
    const s = await session('npx', ['-y', `./${path.basename(tarball)}`, lab.gateway.url, '--bearer-env', 'GW_TOKEN', '--token-store', 'memory'], root);
    expect(s.tools).toContain('echo');
    expect(JSON.stringify(s.echoed)).toContain('from the tarball');
  });
});
