/**
 * The parts of an MCP client entry that do not depend on the client: the command that starts
 * mcp-keybridge, the default server name, backup file names. Per-client files, keys and formats
 * are in ./clients/.
 */

/** The default launcher; MCP_KEYBRIDGE_CONFIG_COMMAND replaces it (a JSON array, or words split on spaces). */
export const DEFAULT_LAUNCHER = ['npx', '-y', 'mcp-keybridge'] as const;

/** The command words that start mcp-keybridge from an IDE. */
export function launcher(env: NodeJS.ProcessEnv): string[] {
  const override = env.MCP_KEYBRIDGE_CONFIG_COMMAND?.trim();
  if (!override) return [...DEFAULT_LAUNCHER];
  if (override.startsWith('[')) {
    const parsed: unknown = JSON.parse(override);
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((w) => typeof w === 'string' && w.length > 0)) {
      throw new Error('MCP_KEYBRIDGE_CONFIG_COMMAND must be a JSON array of non-empty strings or a space-separated command');
    }
    return parsed as string[];
  }
  return override.split(/\s+/);
}

/**
 * The default server name: the gateway's host name with dots turned into dashes, plus the port
 * when one is given ("mcp.example.com" → "mcp-example-com", "127.0.0.1:8080" → "127-0-0-1-8080").
 */
export function defaultServerName(serverUrl: URL): string {
  const host = serverUrl.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const base = [host, serverUrl.port].filter(Boolean).join('-');
  return base.replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'mcp-keybridge';
}

/** The backup file name written before a config file is changed. */
export function backupPath(file: string, now: number): string {
  return `${file}.bak-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
}

/** Flags whose value names an environment variable the bridge reads. */
const ENV_NAMING_FLAGS = new Set(['--bearer-env', '--client-secret-env', '--enterprise-client-secret-env']);

/**
 * The environment variables a bridge started with these flags reads: the ones --bearer-env,
 * --header-env Name=VAR and the *-secret-env flags name, and each ${VAR} in a --header.
 * The client entry must hand each of them to the bridge, the client's way.
 */
export function environmentVariablesRead(bridgeArgs: readonly string[]): string[] {
  const names = new Set<string>();
  for (let i = 0; i < bridgeArgs.length - 1; i++) {
    const flag = bridgeArgs[i]!;
    const value = bridgeArgs[i + 1]!;
    if (ENV_NAMING_FLAGS.has(flag)) names.add(value);
    else if (flag === '--header-env') names.add(value.slice(value.indexOf('=') + 1).trim());
    else if (flag === '--header') for (const m of value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) names.add(m[1]!);
  }
  return [...names].filter((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n));
}
