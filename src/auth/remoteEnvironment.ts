import { existsSync, readFileSync } from 'node:fs';

/**
 * Where this process runs, as far as a sign-in cares: over SSH, in a container, or in WSL the
 * browser is on another machine (or another OS), and the loopback redirect cannot reach here.
 */
export type RemoteKind = 'ssh' | 'container' | 'wsl';

export interface RemoteFinding {
  kind: RemoteKind;
  /** What gave it away (an environment variable or a file), for doctor's detail line. */
  evidence: string;
}

/** The reads detection makes, injected so it is pure logic under test. */
export interface EnvironmentProbe {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  exists(path: string): boolean;
  /** The file's text (first few KiB are enough), or undefined when unreadable. */
  readText(path: string): string | undefined;
}

/** The probe over the real file system. */
export function systemEnvironmentProbe(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): EnvironmentProbe {
  return {
    env,
    platform,
    exists: (p) => existsSync(p),
    readText: (p) => {
      try {
        return readFileSync(p, 'utf8').slice(0, 64 * 1024);
      } catch {
        return undefined;
      }
    },
  };
}

/** WSL: WSL_DISTRO_NAME (or WSL_INTEROP) set, or a kernel that names Microsoft. */
export function detectWsl(probe: EnvironmentProbe): RemoteFinding | undefined {
  if (probe.platform !== 'linux') return undefined;
  if (probe.env.WSL_DISTRO_NAME) return { kind: 'wsl', evidence: `WSL_DISTRO_NAME=${probe.env.WSL_DISTRO_NAME}` };
  if (probe.env.WSL_INTEROP) return { kind: 'wsl', evidence: 'WSL_INTEROP is set' };
  const version = probe.readText('/proc/version');
  if (version && /microsoft/i.test(version)) return { kind: 'wsl', evidence: '/proc/version names Microsoft' };
  return undefined;
}

/** Every sign of a remote session found (SSH, container, WSL), in that order. */
export function detectRemoteEnvironment(probe: EnvironmentProbe): RemoteFinding[] {
  const found: RemoteFinding[] = [];
  if (probe.env.SSH_CONNECTION || probe.env.SSH_TTY || probe.env.SSH_CLIENT) {
    found.push({ kind: 'ssh', evidence: probe.env.SSH_CONNECTION ? 'SSH_CONNECTION is set' : probe.env.SSH_TTY ? 'SSH_TTY is set' : 'SSH_CLIENT is set' });
  }
  if (probe.platform === 'linux') {
    if (probe.exists('/.dockerenv')) found.push({ kind: 'container', evidence: '/.dockerenv exists' });
    else if (probe.exists('/run/.containerenv')) found.push({ kind: 'container', evidence: '/run/.containerenv exists' });
    else {
      const cgroup = probe.readText('/proc/1/cgroup');
      const m = cgroup && /\b(docker|containerd|kubepods|libpod|lxc)\b/.exec(cgroup);
      if (m) found.push({ kind: 'container', evidence: `/proc/1/cgroup names ${m[1]}` });
    }
  }
  const wsl = detectWsl(probe);
  if (wsl) found.push(wsl);
  return found;
}

/** Windows' rundll32 as WSL mounts it; opens the Windows default browser (see windowsOpenArgv). */
export const WSL_RUNDLL32 = '/mnt/c/Windows/System32/rundll32.exe';

/** The argv that opens href in the Windows default browser from WSL, the URL as one element; undefined without the mount. */
export function wslOpenArgv(href: string, probe: Pick<EnvironmentProbe, 'exists'>): [string, ...string[]] | undefined {
  if (!probe.exists(WSL_RUNDLL32)) return undefined;
  return [WSL_RUNDLL32, 'url.dll,FileProtocolHandler', href];
}

/** One sentence: which way to sign in here. */
export function signInAdvice(found: readonly RemoteFinding[], env: NodeJS.ProcessEnv): string {
  const kinds = new Set(found.map((f) => f.kind));
  const paste = 'run `mcp-keybridge login <url> --no-browser` in a terminal, open the printed URL in your browser, and paste back the address it ends on';
  if (kinds.has('ssh') || kinds.has('container')) {
    return `the browser is probably on another machine: ${paste} (or use --grant device where the provider offers it)`;
  }
  if (kinds.has('wsl')) {
    return env.BROWSER
      ? `WSL: the browser is opened with $BROWSER; if its redirect does not arrive, ${paste}`
      : 'WSL: sign-in opens the Windows default browser (rundll32 url.dll,FileProtocolHandler, no shell); the loopback redirect reaches WSL on its default localhost forwarding';
  }
  return 'local machine: sign-in opens the browser and receives the redirect on 127.0.0.1';
}

/** doctor's "sign-in environment" line: what was detected and which way to sign in (informational, never a failure). */
export function signInEnvironmentCheck(probe: EnvironmentProbe): { name: string; status: 'ok'; detail: string } {
  const found = detectRemoteEnvironment(probe);
  const seen = found.length ? `${found.map((f) => `${f.kind === 'ssh' ? 'SSH session' : f.kind === 'wsl' ? 'WSL' : 'container'} (${f.evidence})`).join(', ')}; ` : '';
  return { name: 'sign-in environment', status: 'ok', detail: `${seen}${signInAdvice(found, probe.env)}` };
}
