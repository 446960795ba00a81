import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { withTimeout } from './deadline.js';

/** This process's environment without proxy settings: loopback is measured with no proxy in between, whatever the caller's shell has set. */
export function proxyFreeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(https?_proxy|all_proxy)$/i.test(k)) env[k] = v;
  }
  return env;
}

/** Run the built CLI to completion (its streams closed); resolves with its stdout, rejects with its stderr when it fails. */
export async function runCli(binPath: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<string> {
  const child = spawn(process.execPath, [binPath, ...args], { env: { ...proxyFreeEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2_000)));
  try {
    const [code] = (await withTimeout(once(child, 'close'), timeoutMs, `mcp-keybridge ${args[0]}`)) as [number | null];
    if (code !== 0) throw new Error(`mcp-keybridge ${args.slice(0, 2).join(' ')} exited with ${code}: ${stderr.trim()}`);
    return stdout;
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
}
