import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './deadline.js';

/** A lab gateway running in a child process. */
export interface GatewayProcess {
  url: string;
  pid: number;
  close(): Promise<void>;
}

export interface GatewayProcessOptions {
  /** oauth: the whole lab (gateway + identity provider), for sign-in. */
  auth: { mode: 'none' } | { mode: 'static'; token: string } | { mode: 'oauth' };
  /** How long to wait for the gateway to listen. */
  startTimeoutMs: number;
}

const CHILD = fileURLToPath(new URL('./gatewayChild.js', import.meta.url));

/** Start the lab gateway in its own process and wait until it listens. */
export async function startGatewayProcess(opts: GatewayProcessOptions): Promise<GatewayProcess> {
  const env = { ...process.env };
  if (opts.auth.mode === 'static') env.LAB_TOKEN = opts.auth.token;
  // The gateway keeps every response of a session in its event store until the session ends;
  // a roomy heap keeps a long 1 MiB burst from turning into GC thrash on the server side.
  const child = spawn(process.execPath, ['--max-old-space-size=4096', CHILD, opts.auth.mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env,
  });
  const exited = once(child, 'exit');
  const firstLine = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(buf.slice(0, nl));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the gateway process exited (${code}) before listening`)));
  });
  let line: string;
  try {
    line = await withTimeout(firstLine, opts.startTimeoutMs, 'starting the lab gateway');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const { url } = JSON.parse(line) as { url: string };
  return {
    url,
    pid: child.pid!,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      timer.unref();
      await exited;
      clearTimeout(timer);
    },
  };
}
