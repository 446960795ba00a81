import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { assertBundleFresh } from './bundleFreshness.js';

export const BIN = fileURLToPath(new URL('../../../bin/mcp-keybridge.js', import.meta.url));
// BIN runs the bundle: refuse to test one older than dist/src.
assertBundleFresh(fileURLToPath(new URL('../../..', import.meta.url)));

export interface BridgeProcess {
  child: ChildProcessWithoutNullStreams;
  /** Every byte the bridge wrote to stdout, as text. */
  stdout(): string;
  stderr(): string;
  /** Lines received on stdout, parsed. */
  messages: unknown[];
  /** Write one raw line to the bridge's stdin. */
  writeLine(line: string): void;
  /** Wait for a message matching pred (bounded). */
  waitFor(pred: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** An SDK Transport over this process's stdio, for a real SDK Client. */
  transport(): Transport;
  /** Test cleanup: SIGKILL it if it still runs, and wait until it has exited. */
  kill(): Promise<void>;
}

/** Spawn the built CLI with args; stdout is recorded byte for byte so tests can prove its purity. */
export function spawnBridge(args: string[], opts: { env?: NodeJS.ProcessEnv; wrap?: string[] } = {}): BridgeProcess {
  // wrap: a command prefix the bridge runs under (e.g. scripts/with-keyring.sh for a private keyring).
  const [command, ...prefix] = [...(opts.wrap ?? []), process.execPath];
  const child = spawn(command!, [...prefix, BIN, ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const outChunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  const messages: unknown[] = [];
  const listeners = new Set<(m: unknown) => void>();
  let pending = '';
  child.stdout.on('data', (b: Buffer) => {
    outChunks.push(b);
    pending += b.toString('utf8');
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
      if (!line) continue;
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        m = { __unparseable: line.slice(0, 200) };
      }
      messages.push(m);
      for (const l of listeners) l(m);
    }
  });
  child.stderr.on('data', (b: Buffer) => errChunks.push(b));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const proc: BridgeProcess = {
    child,
    messages,
    stdout: () => Buffer.concat(outChunks).toString('utf8'),
    stderr: () => Buffer.concat(errChunks).toString('utf8'),
    writeLine: (line) => {
      child.stdin.write(line + '\n');
    },
    waitFor(pred, timeoutMs = 15_000) {
      const found = messages.find((m) => pred(m as Record<string, unknown>));
      if (found) return Promise.resolve(found as Record<string, unknown>);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(l);
          reject(new Error(`no matching message within ${timeoutMs} ms; stderr:\n${proc.stderr()}`));
        }, timeoutMs);
        const l = (m: unknown): void => {
          if (pred(m as Record<string, unknown>)) {
            clearTimeout(timer);
            listeners.delete(l);
            resolve(m as Record<string, unknown>);
          }
        };
        listeners.add(l);
      });
    },
    exited,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    transport() {
      const t: Transport = {
        async start() {
          listeners.add((m) => t.onmessage?.(m as JSONRPCMessage));
          child.on('exit', () => t.onclose?.());
        },
        async send(message) {
          child.stdin.write(JSON.stringify(message) + '\n');
        },
        async close() {
          child.stdin.end();
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
          if (child.exitCode === null) child.kill('SIGKILL');
        },
      };
      return t;
    },
  };
  return proc;
}

/** Every line on stdout must be a JSON-RPC 2.0 message: the bridge's stdout is the MCP channel. */
export function assertStdoutIsJsonRpc(text: string): void {
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('stdout does not end with a newline');
  for (const line of lines.slice(0, -1)) {
    const m = JSON.parse(line) as Record<string, unknown>;
    if (m.jsonrpc !== '2.0') throw new Error(`stdout line is not JSON-RPC 2.0: ${line.slice(0, 200)}`);
  }
}
