import { appData, pathFor, xdgConfig, type ClientSpec } from './clientSpec.js';

// https://block.github.io/goose/docs/guides/config-files — ~/.config/goose/config.yaml (Windows
// %APPDATA%\Block\goose\config\config.yaml); "extensions": {NAME: {type: stdio, name, cmd, args,
// enabled, envs, env_keys, timeout}}; env_keys names variables goose supplies from its secret
// store or its environment.
export const GOOSE: ClientSpec = {
  id: 'goose',
  displayName: 'Goose',
  docs: 'https://block.github.io/goose/docs/guides/config-files',
  scopes: ['user'],
  format: 'yaml',
  file: (loc) => {
    const p = pathFor(loc);
    if (loc.platform === 'win32') return p.join(appData(loc), 'Block', 'goose', 'config', 'config.yaml');
    return p.join(xdgConfig(loc), 'goose', 'config.yaml');
  },
  place: (name) => ({ kind: 'map', path: ['extensions', name] }),
  entry: (input) => ({
    name: input.name,
    type: 'stdio',
    cmd: input.command,
    args: input.args,
    enabled: true,
    envs: {},
    env_keys: input.envVars,
    timeout: 300,
    bundled: null,
    description: 'Remote MCP gateway through mcp-keybridge',
  }),
  env: 'forward-list',
};

// https://docs.continue.dev/customize/deep-dives/mcp and https://docs.continue.dev/reference —
// user ~/.continue/config.yaml "mcpServers" (a list of {name, command, args, env}); in a workspace
// one block file per server in .continue/mcpServers/; ${{ secrets.NAME }} reads a secret (from
// the hub or a local .env).
export const CONTINUE: ClientSpec = {
  id: 'continue',
  displayName: 'Continue',
  docs: 'https://docs.continue.dev/customize/deep-dives/mcp',
  scopes: ['user', 'workspace'],
  format: 'yaml',
  file: (loc, scope, name) => {
    const p = pathFor(loc);
    if (scope === 'workspace') return p.join(loc.cwd, '.continue', 'mcpServers', `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.yaml`);
    return p.join(loc.homeDir, '.continue', 'config.yaml');
  },
  place: (name) => ({ kind: 'list', path: ['mcpServers'], key: 'name', value: name }),
  entry: (input) => ({
    name: input.name,
    type: 'stdio',
    command: input.command,
    args: input.args,
    ...(input.envVars.length ? { env: Object.fromEntries(input.envVars.map((v) => [v, '${{ secrets.' + v + ' }}'])) } : {}),
  }),
  env: 'reference',
  // A block file starts with its own name, version and schema.
  skeleton: (input, scope) => (scope === 'workspace' ? { name: input.name, version: '0.0.1', schema: 'v1', mcpServers: [] } : {}),
};
