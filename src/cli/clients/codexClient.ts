import { pathFor, type ClientSpec } from './clientSpec.js';

// https://developers.openai.com/codex/mcp and https://github.com/openai/codex/blob/main/docs/config.md —
// $CODEX_HOME/config.toml (default ~/.codex/config.toml), or a trusted project's .codex/config.toml;
// TOML [mcp_servers.NAME] with command, args, env (literal values) and env_vars (names forwarded
// from Codex's environment; otherwise a server gets only a default allow-list of variables).
export const CODEX: ClientSpec = {
  id: 'codex',
  displayName: 'OpenAI Codex',
  docs: 'https://developers.openai.com/codex/mcp',
  scopes: ['user', 'workspace'],
  format: 'toml',
  file: (loc, scope) => {
    const p = pathFor(loc);
    if (scope === 'workspace') return p.join(loc.cwd, '.codex', 'config.toml');
    return p.join(loc.env.CODEX_HOME || p.join(loc.homeDir, '.codex'), 'config.toml');
  },
  place: (name) => ({ kind: 'map', path: ['mcp_servers', name] }),
  entry: (input) => ({ command: input.command, args: input.args, ...(input.envVars.length ? { env_vars: input.envVars } : {}) }),
  env: 'forward-list',
  addCommand: (input) => ['codex', 'mcp', 'add', input.name, '--', input.command, ...input.args],
  notes: (input) =>
    input.envVars.length ? [`\`codex mcp add\` cannot forward a variable: add env_vars = ${JSON.stringify(input.envVars)} to [mcp_servers.${input.name}] after it.`] : [],
};
