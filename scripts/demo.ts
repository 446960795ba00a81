/**
 * `npm run demo`: the bridge end to end against the embedded lab — a real identity provider
 * (oidc-provider) and a real MCP gateway that only accepts its JWTs, both on 127.0.0.1.
 *
 *   npm run demo            opens your browser for the sign-in (alice / wonderland), or, on a
 *                           machine with no display, completes it with the scripted login
 *   npm run demo -- --auto  always uses the scripted login
 *   npm run demo -- --browser  always opens a real browser
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startLab } from './lab/lab.js';

const BIN = fileURLToPath(new URL('../../bin/mcp-keybridge.js', import.meta.url));
const SCRIPTED_BROWSER = fileURLToPath(new URL('./lab/scriptedBrowser.js', import.meta.url));

function canOpenBrowser(): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

function say(line: string): void {
  process.stderr.write(`\x1b[1mdemo:\x1b[0m ${line}\n`);
}

async function runOnce(url: string, env: NodeJS.ProcessEnv, label: string): Promise<void> {
  say(`${label}: starting \`mcp-keybridge ${url}\` under an MCP client (as an IDE would)`);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, url, '--token-store', 'file'],
    env: env as Record<string, string>,
    stderr: 'inherit',
  });
  const client = new Client({ name: 'keybridge-demo', version: '1.0.0' });
  const started = performance.now();
  await client.connect(transport);
  say(`${label}: initialized in ${Math.round(performance.now() - started)} ms`);
  const { tools } = await client.listTools();
  say(`${label}: the gateway offers ${tools.length} tools: ${tools.map((t) => t.name).join(', ')}`);
  const echo = (await client.callTool({ name: 'echo', arguments: { text: 'hello through the bridge' } })) as { content: { text: string }[] };
  say(`${label}: echo → ${echo.content[0]?.text}`);
  const who = (await client.callTool({ name: 'whoami', arguments: {} })) as { content: { text: string }[] };
  say(`${label}: whoami (claims the gateway validated) → ${who.content[0]?.text}`);
  await client.close();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const auto = args.includes('--auto') || (!args.includes('--browser') && !canOpenBrowser());
  const home = await mkdtemp(join(tmpdir(), 'keybridge-demo-'));
  const lab = await startLab({ auth: 'oauth' });
  say(`identity provider: ${lab.idp!.issuer}`);
  say(`MCP gateway:       ${lab.gateway.url} (answers 401 without a token from that provider)`);
  const env: NodeJS.ProcessEnv = { ...process.env, MCP_KEYBRIDGE_HOME: home };
  if (auto) {
    env.BROWSER = `${process.execPath} ${SCRIPTED_BROWSER}`;
    say('no browser can be opened here (or --auto): the sign-in page will be completed by the scripted login the tests use');
  } else {
    say('your browser will open the sign-in page: log in as alice / wonderland');
  }
  say(`tokens go to a file store in ${home} for this demo (the default store is the OS keychain)`);
  try {
    await runOnce(lab.gateway.url, env, 'first start');
    await runOnce(lab.gateway.url, { ...env, BROWSER: `${process.execPath} -e process.exit(1)` }, 'second start (no sign-in)');
    say('done: the second start reused the stored session, no browser involved');
  } finally {
    await lab.close();
    await rm(home, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
