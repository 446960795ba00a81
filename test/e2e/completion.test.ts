import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN } from './harness/bridgeProcess.js';

/** The generated bash script, sourced in a real bash and asked what it completes. */
const run = promisify(execFile);

async function complete(line: string[]): Promise<string[]> {
  const script = (await run(process.execPath, [BIN, 'completion', 'bash'])).stdout;
  const words = line.map((w) => `'${w}'`).join(' ');
  const probe = `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _mcp_keybridge; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await run('bash', ['-c', probe]);
  return stdout.split('\n').filter(Boolean);
}

describe('shell completion from the command definitions', () => {
  it('bash: commands, each command\'s flags, flag choices and config\'s clients', async () => {
    expect(await complete(['mcp-keybridge', 'lo'])).toEqual(expect.arrayContaining(['login', 'logout']));
    expect(await complete(['mcp-keybridge', 'login', '--for'])).toEqual(['--force']);
    expect(await complete(['mcp-keybridge', 'serve', 'https://x', '--transport', ''])).toEqual(['auto', 'streamable-http', 'sse']);
    expect(await complete(['mcp-keybridge', 'config', 'clau'])).toEqual(['claude', 'claude-code']);
    expect(await complete(['mcp-keybridge', 'cache', ''])).toContain('clear');
    expect(await complete(['mcp-keybridge', 'completion', ''])).toEqual(['bash', 'zsh', 'fish', '--help']);
  });
  it('zsh and fish scripts are generated from the same definitions', async () => {
    const zsh = (await run(process.execPath, [BIN, 'completion', 'zsh'])).stdout;
    expect(zsh).toMatch(/bashcompinit/);
    expect(zsh).toContain('complete -o default -F _mcp_keybridge mcp-keybridge');
    const fish = (await run(process.execPath, [BIN, 'completion', 'fish'])).stdout;
    expect(fish).toMatch(/complete -c mcp-keybridge -n '__fish_seen_subcommand_from login' -l force/);
    expect(fish).toMatch(/-l transport -x -a 'auto streamable-http sse'/);
  });
});
