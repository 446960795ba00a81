import { appData, commandEntry, envMap, pathFor, vscodeUserDir, type ClientLocation, type ClientSpec, type EntryInput } from './clientSpec.js';

/**
 * The clients whose MCP config is JSON. Most take the `mcpServers` entry that Claude Desktop
 * introduced ({command, args, env}); each differs in file, scope, env syntax and extra keys.
 * Every spec cites the client's own documentation.
 */

const mcpServers = (name: string) => ({ kind: 'map' as const, path: ['mcpServers', name] });
const ref = (syntax: (v: string) => string) => (input: EntryInput) => envMap(input.envVars, syntax);
const curly = (v: string): string => '${' + v + '}';
const envColon = (v: string): string => '${env:' + v + '}';

// https://kiro.dev/docs/mcp/configuration/ — user ~/.kiro/settings/mcp.json, workspace .kiro/settings/mcp.json;
// env values may reference the environment as ${VAR}. Kiro CLI reads the same files.
const kiro: ClientSpec = {
  id: 'kiro',
  displayName: 'Kiro',
  docs: 'https://kiro.dev/docs/mcp/configuration/',
  scopes: ['user', 'workspace'],
  format: 'json',
  file: (loc, scope) => pathFor(loc).join(scope === 'workspace' ? loc.cwd : loc.homeDir, '.kiro', 'settings', 'mcp.json'),
  place: mcpServers,
  entry: (input) => commandEntry(input, ref(curly)(input)),
  env: 'reference',
};

// https://modelcontextprotocol.io/quickstart/user — claude_desktop_config.json per OS. Claude Desktop
// expands no variables and passes a server only the env its entry names.
const claudeDesktop: ClientSpec = {
  id: 'claude',
  displayName: 'Claude Desktop',
  docs: 'https://modelcontextprotocol.io/quickstart/user',
  scopes: ['user'],
  format: 'json',
  file: (loc) => {
    const p = pathFor(loc);
    if (loc.platform === 'darwin') return p.join(loc.homeDir, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json');
    if (loc.platform === 'win32') return p.join(appData(loc), 'Claude', 'claude_desktop_config.json');
    return p.join(loc.homeDir, '.config', 'Claude', 'claude_desktop_config.json');
  },
  place: mcpServers,
  entry: (input) => commandEntry(input, undefined),
  env: 'none',
};

// https://code.claude.com/docs/en/mcp — scopes: user (~/.claude.json "mcpServers"), local
// (~/.claude.json "projects"[cwd]."mcpServers", its default) and project (./.mcp.json). "type":
// "stdio"; ${VAR} and ${VAR:-default} expand in command, args, env from Claude Code's own
// environment (so a ${VAR} in args puts the value on our command line: use --bearer-env).
// CLAUDE_CONFIG_DIR moves ~/.claude.json.
const claudeCode: ClientSpec = {
  id: 'claude-code',
  displayName: 'Claude Code',
  docs: 'https://code.claude.com/docs/en/mcp',
  scopes: ['user', 'local', 'workspace'],
  format: 'json',
  file: (loc, scope) => {
    const p = pathFor(loc);
    if (scope === 'workspace') return p.join(loc.cwd, '.mcp.json');
    return p.join(loc.env.CLAUDE_CONFIG_DIR || loc.homeDir, '.claude.json');
  },
  place: (name, loc, scope) => (scope === 'local' ? { kind: 'map', path: ['projects', loc.cwd, 'mcpServers', name] } : mcpServers(name)),
  entry: (input) => commandEntry(input, ref(curly)(input), { type: 'stdio' }),
  env: 'reference',
  addCommand: (input, scope) => [
    'claude', 'mcp', 'add', '--scope', scope === 'workspace' ? 'project' : scope, input.name,
    ...input.envVars.flatMap((v) => ['-e', `${v}=${curly(v)}`]),
    '--', input.command, ...input.args,
  ],
};

// https://cursor.com/docs/context/mcp — ~/.cursor/mcp.json or .cursor/mcp.json; ${env:NAME} interpolation.
const cursor: ClientSpec = {
  id: 'cursor',
  displayName: 'Cursor',
  docs: 'https://cursor.com/docs/context/mcp',
  scopes: ['user', 'workspace'],
  format: 'json',
  file: (loc, scope) => pathFor(loc).join(scope === 'workspace' ? loc.cwd : loc.homeDir, '.cursor', 'mcp.json'),
  place: mcpServers,
  entry: (input) => commandEntry(input, ref(envColon)(input)),
  env: 'reference',
};

// https://code.visualstudio.com/docs/copilot/customization/mcp-servers — .vscode/mcp.json or the
// user profile's mcp.json; key "servers", "type": "stdio"; secrets as "inputs" of type
// promptString with password: true, referenced as ${input:id} (VS Code keeps the value in its
// secret storage). `code --add-mcp '{json}'` adds to the user profile.
const inputId = (v: string): string => `mcp-keybridge-${v.toLowerCase().replace(/_/g, '-')}`;
const vscode: ClientSpec = {
  id: 'vscode',
  displayName: 'VS Code',
  docs: 'https://code.visualstudio.com/docs/copilot/customization/mcp-servers',
  scopes: ['workspace', 'user'],
  format: 'json',
  file: (loc, scope) => (scope === 'user' ? pathFor(loc).join(vscodeUserDir(loc), 'mcp.json') : pathFor(loc).join(loc.cwd, '.vscode', 'mcp.json')),
  place: (name) => ({ kind: 'map', path: ['servers', name] }),
  entry: (input) => commandEntry(input, envMap(input.envVars, (v) => '${input:' + inputId(v) + '}'), { type: 'stdio' }),
  env: 'reference',
  requiredListItems: (input) =>
    input.envVars.map((v) => ({
      path: ['inputs'],
      key: 'id',
      item: { type: 'promptString', id: inputId(v), description: `${v} for mcp-keybridge`, password: true },
    })),
  addCommand: (input, scope) =>
    scope === 'user' && input.envVars.length === 0 ? ['code', '--add-mcp', JSON.stringify({ name: input.name, type: 'stdio', command: input.command, args: input.args })] : [],
};

// https://docs.windsurf.com/windsurf/cascade/mcp — ~/.codeium/windsurf/mcp_config.json; ${env:VAR} interpolation.
const windsurf: ClientSpec = {
  id: 'windsurf',
  displayName: 'Windsurf',
  docs: 'https://docs.windsurf.com/windsurf/cascade/mcp',
  scopes: ['user'],
  format: 'json',
  file: (loc) => pathFor(loc).join(loc.homeDir, '.codeium', 'windsurf', 'mcp_config.json'),
  place: mcpServers,
  entry: (input) => commandEntry(input, ref(envColon)(input)),
  env: 'reference',
};

// https://geminicli.com/docs/tools/mcp-server — ~/.gemini/settings.json or .gemini/settings.json
// (a project's settings apply only in a trusted folder); strings in settings expand $VAR and
// ${VAR} from Gemini CLI's environment; a server gets the variables its "env" names.
const gemini: ClientSpec = {
  id: 'gemini',
  displayName: 'Gemini CLI',
  docs: 'https://geminicli.com/docs/tools/mcp-server',
  scopes: ['user', 'workspace'],
  format: 'json',
  file: (loc, scope) => pathFor(loc).join(scope === 'workspace' ? loc.cwd : loc.homeDir, '.gemini', 'settings.json'),
  place: mcpServers,
  entry: (input) => commandEntry(input, ref(curly)(input)),
  env: 'reference',
  addCommand: (input, scope) => [
    'gemini', 'mcp', 'add', '--scope', scope === 'workspace' ? 'project' : 'user',
    ...input.envVars.flatMap((v) => ['-e', `${v}=${curly(v)}`]),
    input.name, input.command, '--', ...input.args,
  ],
  notes: (_input, scope) => (scope === 'workspace' ? ['Gemini CLI reads a project\'s .gemini/settings.json only once the folder is trusted.'] : []),
};

// https://opencode.ai/docs/mcp-servers/ and https://opencode.ai/docs/config/ — ~/.config/opencode/
// opencode.json(c) or the project's opencode.json(c) (JSON with comments); "mcp": {NAME: {type:
// "local", command: [cmd, ...args], environment}}; {env:VAR} substitutes a variable.
const opencode: ClientSpec = {
  id: 'opencode',
  displayName: 'opencode',
  docs: 'https://opencode.ai/docs/mcp-servers/',
  scopes: ['user', 'workspace'],
  format: 'json',
  file: (loc, scope) => {
    const p = pathFor(loc);
    return scope === 'workspace' ? p.join(loc.cwd, 'opencode.json') : p.join(loc.env.XDG_CONFIG_HOME || p.join(loc.homeDir, '.config'), 'opencode', 'opencode.json');
  },
  alternatives: (loc, scope) => {
    const p = pathFor(loc);
    const dir = scope === 'workspace' ? loc.cwd : p.join(loc.env.XDG_CONFIG_HOME || p.join(loc.homeDir, '.config'), 'opencode');
    return [p.join(dir, 'opencode.jsonc')];
  },
  place: (name) => ({ kind: 'map', path: ['mcp', name] }),
  entry: (input) => {
    const environment = envMap(input.envVars, (v) => '{env:' + v + '}');
    return { type: 'local', command: [input.command, ...input.args], enabled: true, ...(environment ? { environment } : {}) };
  },
  env: 'reference',
};

// https://zed.dev/docs/ai/mcp — "context_servers" in settings.json (JSON with comments): user
// ~/.config/zed/settings.json (Windows %APPDATA%\Zed\settings.json), project .zed/settings.json.
// Zed starts a server with its own environment plus "env".
const zed: ClientSpec = {
  id: 'zed',
  displayName: 'Zed',
  docs: 'https://zed.dev/docs/ai/mcp',
  scopes: ['user', 'workspace'],
  format: 'json',
  file: (loc, scope) => {
    const p = pathFor(loc);
    if (scope === 'workspace') return p.join(loc.cwd, '.zed', 'settings.json');
    if (loc.platform === 'win32') return p.join(appData(loc), 'Zed', 'settings.json');
    return p.join(loc.env.XDG_CONFIG_HOME || p.join(loc.homeDir, '.config'), 'zed', 'settings.json');
  },
  place: (name) => ({ kind: 'map', path: ['context_servers', name] }),
  entry: (input) => ({ command: input.command, args: input.args }),
  env: 'inherits',
};

const globalStorage = (loc: ClientLocation, extension: string, file: string): string =>
  pathFor(loc).join(vscodeUserDir(loc), 'globalStorage', extension, 'settings', file);

// https://docs.cline.bot/mcp/configuring-mcp-servers — cline_mcp_settings.json in the extension's
// global storage; the usual mcpServers entry; no variable substitution.
const cline: ClientSpec = {
  id: 'cline',
  displayName: 'Cline',
  docs: 'https://docs.cline.bot/mcp/configuring-mcp-servers',
  scopes: ['user'],
  format: 'json',
  file: (loc) => globalStorage(loc, 'saoudrizwan.claude-dev', 'cline_mcp_settings.json'),
  place: mcpServers,
  entry: (input) => commandEntry(input, undefined, { disabled: false }),
  env: 'none',
};

// https://docs.roocode.com/features/mcp/using-mcp-in-roo — global mcp_settings.json in the
// extension's storage, project .roo/mcp.json; ${env:VAR} in args and env.
const roo: ClientSpec = {
  id: 'roo',
  displayName: 'Roo Code',
  docs: 'https://docs.roocode.com/features/mcp/using-mcp-in-roo',
  scopes: ['user', 'workspace'],
  format: 'json',
  file: (loc, scope) => (scope === 'workspace' ? pathFor(loc).join(loc.cwd, '.roo', 'mcp.json') : globalStorage(loc, 'rooveterinaryinc.roo-cline', 'mcp_settings.json')),
  place: mcpServers,
  entry: (input) => commandEntry(input, ref(envColon)(input), { disabled: false }),
  env: 'reference',
};

// https://docs.aws.amazon.com/amazonq/latest/qdeveloper-ug/command-line-mcp-configuration.html —
// ~/.aws/amazonq/mcp.json and a workspace's .amazonq/mcp.json (read by the default agent, which
// uses the legacy mcp.json files); values are literal. Kiro CLI, Q's successor, reads `kiro`'s files.
const amazonq: ClientSpec = {
  id: 'amazonq',
  displayName: 'Amazon Q Developer CLI',
  docs: 'https://docs.aws.amazon.com/amazonq/latest/qdeveloper-ug/command-line-mcp-configuration.html',
  scopes: ['user', 'workspace'],
  format: 'json',
  file: (loc, scope) => (scope === 'workspace' ? pathFor(loc).join(loc.cwd, '.amazonq', 'mcp.json') : pathFor(loc).join(loc.homeDir, '.aws', 'amazonq', 'mcp.json')),
  place: mcpServers,
  entry: (input) => commandEntry(input, undefined),
  env: 'none',
  notes: () => ['For Kiro CLI use `config kiro` (it reads ~/.kiro/settings/mcp.json).'],
};

// https://www.jetbrains.com/help/junie/model-context-protocol-mcp.html — Junie: ~/.junie/mcp/mcp.json,
// project .junie/mcp/mcp.json. AI Assistant takes the same mcpServers JSON in Settings | Tools |
// AI Assistant | Model Context Protocol ("As JSON"); it has no file of its own to merge into.
const jetbrains: ClientSpec = {
  id: 'jetbrains',
  displayName: 'JetBrains Junie',
  docs: 'https://www.jetbrains.com/help/junie/model-context-protocol-mcp.html',
  scopes: ['user', 'workspace'],
  format: 'json',
  file: (loc, scope) => pathFor(loc).join(scope === 'workspace' ? loc.cwd : loc.homeDir, '.junie', 'mcp', 'mcp.json'),
  place: mcpServers,
  entry: (input) => commandEntry(input, undefined),
  env: 'none',
  notes: () => ['JetBrains AI Assistant: paste the printed entry in Settings | Tools | AI Assistant | Model Context Protocol (MCP) → Add → As JSON.'],
};

// https://lmstudio.ai/docs/app/mcp — ~/.lmstudio/mcp.json (Windows %USERPROFILE%\.lmstudio), Cursor's notation.
const lmstudio: ClientSpec = {
  id: 'lmstudio',
  displayName: 'LM Studio',
  docs: 'https://lmstudio.ai/docs/app/mcp',
  scopes: ['user'],
  format: 'json',
  file: (loc) => pathFor(loc).join(loc.homeDir, '.lmstudio', 'mcp.json'),
  place: mcpServers,
  entry: (input) => commandEntry(input, undefined),
  env: 'none',
};

export const JSON_CLIENTS: readonly ClientSpec[] = [kiro, claudeDesktop, claudeCode, cursor, vscode, windsurf, gemini, opencode, zed, cline, roo, amazonq, jetbrains, lmstudio];
