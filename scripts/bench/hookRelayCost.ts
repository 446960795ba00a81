import { PassThrough, Writable } from 'node:stream';
import { Command } from 'commander';
import { addPolicyOptions, buildPolicyHook, type RawPolicyFlags } from '../../src/cli/policyOptions.js';
import type { Deps } from '../../src/deps.js';
import { Logger } from '../../src/log/logger.js';
import type { RelayHook } from '../../src/policy/policyHook.js';
import { Relay } from '../../src/relay/relay.js';
import { MessageWriter } from '../../src/relay/stdoutWriter.js';
import type { Outgoing, RemoteTransport } from '../../src/remote/remoteTransport.js';
import { percentile } from './stats.js';

/** Samples per repetition, each the mean of a batch of requests (finer than the clock). */
const SAMPLES = 300;
const REQUESTS_PER_SAMPLE = 20;
const SAMPLE_TIMEOUT_MS = 10_000;

/**
 * The relay's own work for one tools/call from the IDE and its answer, in this process, with the
 * bridge's modules: a line in on stdin (parse, duplicate-key check, routing), the request handed to
 * the transport, the answer through the deliver step the bridge uses (the hook's beforeDeliver when
 * there is a hook). Plain, and with the hook built from the same CLI flags as the hooked bridge
 * (buildPolicyHook, commander's parse of the flags). The transport answers at once, so only the
 * relay and the hook are timed. p50 µs per request.
 */
export async function relayCostUs(hookArgs: string[]): Promise<{ plain: number; hooked: number }> {
  const built = await buildPolicyHook(policyFlags(hookArgs), benchDeps(), { server: 'http://127.0.0.1:1/mcp', user: async () => ({}) });
  if (!built) throw new Error(`the hook flags ${hookArgs.join(' ')} build no policy`);
  try {
    await timeRelay(undefined); // warm the shared code first
    await timeRelay(built.hook);
    return { plain: await timeRelay(undefined), hooked: await timeRelay(built.hook) };
  } finally {
    await built.close();
  }
}

/** The flags as the CLI reads them (commander with the bridge's policy options). */
function policyFlags(args: string[]): RawPolicyFlags {
  const cmd = addPolicyOptions(new Command('bench').exitOverride().allowExcessArguments(false));
  cmd.parse(args, { from: 'user' });
  return cmd.opts<RawPolicyFlags>();
}

function benchDeps(): Deps {
  const log = new Logger({ sink: { write: () => true }, level: 'error' });
  return { env: {}, clock: { now: () => Date.now() }, log, cwd: process.cwd(), homeDir: process.cwd(), platform: process.platform } as unknown as Deps;
}

async function timeRelay(hook: RelayHook | undefined): Promise<number> {
  const stdin = new PassThrough();
  const stdout = new Writable({ write: (_chunk, _enc, done) => done() });
  const writer = new MessageWriter(stdout);
  const deliver = hook ? (raw: string) => writer.write(hook.beforeDeliver(raw)) : (raw: string) => writer.write(raw);
  let answered = 0;
  let wake: (() => void) | undefined;
  const remote: RemoteTransport = {
    kind: 'streamable-http',
    async send(out: Outgoing) {
      const id = out.msg.id;
      if (id === undefined) return;
      await deliver(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"content":[{"type":"text","text":"hello"}]}}`);
      answered++;
      wake?.();
    },
    async close() {},
  };
  const log = new Logger({ sink: { write: () => true }, level: 'error' });
  const relay = new Relay({ stdin, writer, remote, log, hook, drainOnEofMs: 1_000 });
  const running = relay.run();
  const samples: number[] = [];
  let next = 1;
  for (let s = 0; s < SAMPLES; s++) {
    const lines: string[] = [];
    for (let j = 0; j < REQUESTS_PER_SAMPLE; j++) {
      lines.push(`{"jsonrpc":"2.0","id":${next++},"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello through the hook"}}}\n`);
    }
    const target = answered + REQUESTS_PER_SAMPLE;
    const t = performance.now();
    stdin.write(lines.join(''));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the relay did not answer the bench requests in time')), SAMPLE_TIMEOUT_MS);
      wake = () => {
        if (answered >= target) {
          clearTimeout(timer);
          resolve();
        }
      };
      wake();
    });
    samples.push(((performance.now() - t) * 1000) / REQUESTS_PER_SAMPLE);
  }
  stdin.end();
  await running;
  return percentile(samples, 0.5);
}
