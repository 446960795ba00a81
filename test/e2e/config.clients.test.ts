import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseJsonc } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { BIN } from './harness/bridgeProcess.js';

/**
 * `config <client> --write` for every client, through the built CLI, into a throwaway home: the
 * file is parsed back with that client's format (JSON with comments, TOML, YAML), the entry is
 * where the client looks, and it starts this bridge with the URL and every flag given.
 */

const run = promisify(execFile);
const URL_ = 'https://gw.example.com/mcp';
const FLAGS = ['--bearer-env', 'GW_TOKEN', '--read-only'];

interface Case {
  client: string;
  file: string;
  format: 'json' | 'toml' | 'yaml';
  /** The entry, from the parsed document. */
  entry: (doc: any) => any;
  /** Its command words, in the client's shape. */
  words: (entry: any) => string[];
}

const cmdArgs = (e: any): string[] => [e.command, ...e.args];
const CASES: Case[] = [
  { client: 'kiro', file: '.kiro/settings/mcp.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'claude', file: '.config/Claude/claude_desktop_config.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'claude-code', file: '.claude.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'cursor', file: '.cursor/mcp.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'vscode', file: 'work/.vscode/mcp.json', format: 'json', entry: (d) => d.servers.gw, words: cmdArgs },
  { client: 'windsurf', file: '.codeium/windsurf/mcp_config.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'gemini', file: '.gemini/settings.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'opencode', file: '.config/opencode/opencode.json', format: 'json', entry: (d) => d.mcp.gw, words: (e) => e.command },
  { client: 'zed', file: '.config/zed/settings.json', format: 'json', entry: (d) => d.context_servers.gw, words: cmdArgs },
  { client: 'cline', file: '.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'roo', file: '.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'amazonq', file: '.aws/amazonq/mcp.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'jetbrains', file: '.junie/mcp/mcp.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'lmstudio', file: '.lmstudio/mcp.json', format: 'json', entry: (d) => d.mcpServers.gw, words: cmdArgs },
  { client: 'codex', file: '.codex/config.toml', format: 'toml', entry: (d) => d.mcp_servers.gw, words: cmdArgs },
  { client: 'goose', file: '.config/goose/config.yaml', format: 'yaml', entry: (d) => d.extensions.gw, words: (e) => [e.cmd, ...e.args] },
  { client: 'continue', file: '.continue/config.yaml', format: 'yaml', entry: (d) => d.mcpServers.find((s: any) => s.name === 'gw'), words: cmdArgs },
];

function parse(format: Case['format'], text: string): unknown {
  if (format === 'toml') return parseToml(text);
  if (format === 'yaml') return parseYaml(text);
  return parseJsonc(text);
}

async function cli(args: string[], home: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: '', CODEX_HOME: '', CLAUDE_CONFIG_DIR: '', APPDATA: '', MCP_KEYBRIDGE_CONFIG_COMMAND: '' };
  return run(process.execPath, [BIN, ...args], { env, cwd: path.join(home, 'work') });
}

describe('config <client> --write, for every client', () => {
  it.each(CASES)('$client: the entry is where the client reads it, in its format', async (c) => {
    const home = await mkdtemp(path.join(tmpdir(), 'kb-config-'));
    try {
      await mkdir(path.join(home, 'work'), { recursive: true });
      // A file the user already has keeps its other content.
      const file = path.join(home, c.file);
      await mkdir(path.dirname(file), { recursive: true });
      const before = c.format === 'toml' ? '# mine\nmodel = "o3"\n' : c.format === 'yaml' ? '# mine\nkeep: 1\n' : '{\n  // mine\n  "keep": 1\n}\n';
      await writeFile(file, before);
      await cli(['config', c.client, URL_, '--name', 'gw', ...FLAGS, '--write'], home);
      const text = await readFile(file, 'utf8');
      const doc = parse(c.format, text) as Record<string, unknown>;
      expect(doc.keep ?? doc.model).toBeDefined();
      expect(text).toContain('# mine'.replace('#', c.format === 'json' ? '//' : '#'));
      expect(c.words(c.entry(doc))).toEqual(['npx', '-y', 'mcp-keybridge', URL_, '--read-only', '--bearer-env', 'GW_TOKEN']);
      // Written again: nothing changes.
      const again = await cli(['config', c.client, URL_, '--name', 'gw', ...FLAGS, '--write'], home);
      expect(again.stderr).toMatch(/already configured/);
      // --list finds it.
      const listed = await cli(['config', '--list', URL_], home);
      expect(listed.stdout).toMatch(new RegExp(`^${c.client}\\t\\w+\\tgw\\t${URL_}\\t`, 'm'));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('--print-command prints the client\'s own mcp add line; a client without one says so', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'kb-config-'));
    try {
      await mkdir(path.join(home, 'work'), { recursive: true });
      const r = await cli(['config', 'claude-code', URL_, '--name', 'gw', '--bearer-env', 'GW_TOKEN', '--print-command'], home);
      expect(r.stdout.trim()).toBe(`claude mcp add --scope user gw -e 'GW_TOKEN=\${GW_TOKEN}' -- npx -y mcp-keybridge ${URL_} --bearer-env GW_TOKEN`);
      await expect(cli(['config', 'zed', URL_, '--print-command'], home)).rejects.toMatchObject({ code: 2 });
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
