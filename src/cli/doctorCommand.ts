import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Command } from 'commander';
import { discoverAuthorizationServer, discoverProtectedResource, type DiscoveredServer, type ProtectedResourceMetadata } from '../auth/discovery.js';
import { sanitizeServerText } from '../auth/oauthErrors.js';
import type { AuthOptions } from '../auth/options.js';
import { canonicalServerUrl } from '../auth/profile.js';
import { isExpired, type StoredSession } from '../auth/tokenSet.js';
import { parseBearerChallenge, type BearerChallenge } from '../auth/wwwAuthenticate.js';
import { signInEnvironmentCheck, systemEnvironmentProbe } from '../auth/remoteEnvironment.js';
import type { Deps } from '../deps.js';
import { KeybridgeError, UsageError } from '../errors.js';
import { Logger } from '../log/logger.js';
import { createProxyFetch, proxyConfigured } from '../remote/proxyHttpClient.js';
import { describeNetworkError } from '../remote/remoteErrors.js';
import { rememberedEraCheck } from '../remote/era/eraReport.js';
import { configDir } from '../store/paths.js';
import type { StoreKind, TokenStore } from '../store/tokenStore.js';
import { addPolicyOptions, loadEffectivePolicy, policyRequested, type RawPolicyFlags } from './policyOptions.js';
import { addProfileOptions, toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { parseServerUrl } from './serverUrl.js';
import { openAuthSession, openTokenStore } from './sessionFactory.js';
import { checkTokenAccepted, clockCheck, initializeBody, serverCapabilityChecks, sessionCheck } from './doctorChecks.js';

export interface DoctorOptions {
  auth: AuthOptions;
  storeKind: StoreKind;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

/** One link of the chain: ok, failed (with what to do), a warning, or not checked. */
export interface DoctorCheck {
  name: string;
  status: 'ok' | 'fail' | 'warn' | 'skip';
  detail: string;
  fix?: string;
}

const MARK: Record<DoctorCheck['status'], string> = { ok: '✓', fail: '✗', warn: '!', skip: '-' };

/** Walk gateway → resource metadata → authorization server → store → session → clock; exit 1 if a link fails. */
export async function runDoctor(opts: DoctorOptions, deps: Deps): Promise<number> {
  const checks: DoctorCheck[] = [];
  const report = (c: DoctorCheck): void => {
    checks.push(c);
    // Details and fixes quote metadata (issuer, endpoints, scopes, error_description): no terminal escapes.
    let line = `${MARK[c.status]} ${c.name}: ${sanitizeServerText(c.detail, 1000)}`;
    if (c.fix && (c.status === 'fail' || c.status === 'warn')) line += `\n    → ${sanitizeServerText(c.fix, 1000)}`;
    // Through the redactor: nothing here should be secret, and if a server echoes one it stays masked.
    deps.stdout.write(`${deps.log.redactor.redact(line)}\n`);
  };
  const { auth } = opts;
  const server = canonicalServerUrl(auth.serverUrl);
  const quiet = new Logger({ sink: { write: () => undefined }, redactor: deps.log.redactor });
  const fetchFn = proxyConfigured(deps.env) ? await createProxyFetch() : deps.fetch;
  deps.stdout.write(`Checking ${server}\n`);

  report(await checkConnection(auth.serverUrl, opts.connectTimeoutMs, deps));

  const gw = await checkGateway(auth.serverUrl, fetchFn, opts.requestTimeoutMs, deps);
  report(gw.check);
  // Which protocol era the gateway speaks, as the last bridge found it (the era cache, not a probe).
  report(await rememberedEraCheck(configDir(deps.env, deps.platform, deps.homeDir), auth.serverUrl));

  let prm: ProtectedResourceMetadata | undefined;
  if (gw.challenge) {
    try {
      prm = await discoverProtectedResource({
        serverUrl: auth.serverUrl,
        expectedResource: canonicalServerUrl(auth.resource ?? auth.serverUrl),
        resourceMetadataUrl: gw.challenge.resourceMetadata,
        fetch: fetchFn,
        log: quiet,
        allowHttp: auth.allowHttp,
      });
      report({ name: 'protected resource metadata', status: 'ok', detail: `resource ${prm.resource}, authorization server ${prm.authorization_servers[0]}` });
    } catch (err) {
      report(failure('protected resource metadata', err, resourceMetadataFix));
    }
  } else {
    report({ name: 'protected resource metadata', status: 'skip', detail: gw.check.status === 'ok' ? 'not needed' : 'the gateway check failed' });
  }

  let as: DiscoveredServer | undefined;
  const issuer = prm?.authorization_servers[0];
  if (issuer) {
    try {
      // PKCE is judged below, on its own line.
      as = await discoverAuthorizationServer({ issuer, gatewayUrl: auth.serverUrl, fetch: fetchFn, log: quiet, allowHttp: auth.allowHttp, assumePkceS256: true });
      report({ name: 'authorization server metadata', status: 'ok', detail: `${as.metadata.issuer} (from ${as.metadataUrl.href})` });
    } catch (err) {
      report(failure('authorization server metadata', err, (e) => authorizationServerFix(e, issuer)));
    }
  } else {
    report({ name: 'authorization server metadata', status: 'skip', detail: 'no authorization server known' });
  }
  if (as) for (const c of serverCapabilityChecks(as, auth)) report(c);

  let store: TokenStore | undefined;
  try {
    store = await openTokenStore(opts.storeKind, deps);
    report({ name: 'token store', status: 'ok', detail: `${store.location}${store.kind === 'keychain' ? ' is reachable and unlocked (probe entry written, read and removed)' : ''}` });
  } catch (err) {
    report(failure('token store', err, () => (opts.storeKind === 'keychain' ? 'or choose `--token-store file`' : 'check the permissions of the config directory (MCP_KEYBRIDGE_HOME)')));
  }

  let session: StoredSession | undefined;
  if (store) {
    try {
      const opened = await openAuthSession({ ...auth, interactive: false }, opts.storeKind, deps, { store });
      session = await opened.session.currentSession();
      report(sessionCheck(session, server, as, deps.clock.now()));
    } catch (err) {
      report(failure('stored session', err, () => `run \`mcp-keybridge cache clear ${server}\`, then \`mcp-keybridge login ${server}\``));
    }
  } else {
    report({ name: 'stored session', status: 'skip', detail: 'the token store is not usable' });
  }
  if (session && !isExpired(session, deps.clock.now()) && gw.challenge) {
    report(await checkTokenAccepted(auth.serverUrl, session, fetchFn, opts.requestTimeoutMs, deps.clock));
  }

  report(clockCheck(gw.serverDate, gw.localMidpoint));
  // SSH, a container or WSL: which way a sign-in can come back here (src/auth/remoteEnvironment.ts).
  report(signInEnvironmentCheck(systemEnvironmentProbe(deps.env, deps.platform)));
  const failed = checks.filter((c) => c.status === 'fail').length;
  deps.stdout.write(failed ? `${failed} check(s) failed.\n` : 'All checks passed.\n');
  return failed ? 1 : 0;
}

function failure(name: string, err: unknown, fix: (e: KeybridgeError | undefined) => string | undefined): DoctorCheck {
  const e = err instanceof KeybridgeError ? err : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return { name, status: 'fail', detail: sanitizeServerText(message, 400), fix: fix(e) };
}

/** TCP (and TLS for https) to the gateway's host and port, under a deadline. */
async function checkConnection(url: URL, timeoutMs: number, deps: Deps): Promise<DoctorCheck> {
  const name = url.protocol === 'https:' ? 'TCP/TLS to the gateway' : 'TCP to the gateway';
  if (proxyConfigured(deps.env)) {
    return { name, status: 'skip', detail: 'an HTTP(S)_PROXY is set; the gateway is reached through it (checked with the next request)' };
  }
  const https = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (https ? 443 : 80));
  return new Promise<DoctorCheck>((resolve) => {
    let settled = false;
    const done = (check: DoctorCheck): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(check);
    };
    const socket: Socket | TLSSocket = https
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port });
    const timer = setTimeout(
      () => done({ name, status: 'fail', detail: `no connection to ${host}:${port} within ${timeoutMs / 1000} s`, fix: 'check the URL, your network, VPN or firewall; behind a proxy set HTTPS_PROXY' }),
      timeoutMs,
    );
    socket.once(https ? 'secureConnect' : 'connect', () => {
      const detail = https ? `${host}:${port}, ${(socket as TLSSocket).getProtocol() ?? 'TLS'}, certificate trusted` : `${host}:${port} (plain http)`;
      done({ name, status: 'ok', detail });
    });
    socket.once('error', (err) => {
      const described = describeNetworkError(err, url);
      done({ name, status: 'fail', detail: described.message, fix: connectionFix(described.networkCode) });
    });
  });
}

function connectionFix(code: string | undefined): string {
  if (code && /CERT|SIGNATURE|SELF_SIGNED|ALTNAME/.test(code)) return 'if a corporate proxy or private CA signs the certificate, point NODE_EXTRA_CA_CERTS at its PEM file';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'check the host name in the URL and your DNS / VPN';
  return 'check the URL and that the gateway is up and reachable from this machine (VPN, firewall, HTTPS_PROXY)';
}

/** An unauthenticated MCP initialize: the gateway should answer 401 with a Bearer challenge (RFC 6750 §3, RFC 9728 §5.1). */
async function checkGateway(
  url: URL,
  fetchFn: typeof fetch,
  timeoutMs: number,
  deps: Deps,
): Promise<{ check: DoctorCheck; challenge?: BearerChallenge; serverDate?: number; localMidpoint?: number }> {
  const name = 'gateway sign-in challenge';
  const before = deps.clock.now();
  let res: Response;
  try {
    res = await fetchFn(url.href, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: initializeBody(),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const described = describeNetworkError((err as Error).cause ?? err, url);
    return { check: { name, status: 'fail', detail: described.message, fix: connectionFix(described.networkCode) } };
  }
  const after = deps.clock.now();
  await res.body?.cancel().catch(() => undefined);
  const date = res.headers.get('date');
  const timing = { serverDate: date ? Date.parse(date) : undefined, localMidpoint: (before + after) / 2 };
  const header = res.headers.get('www-authenticate');
  if (res.status === 401) {
    const challenge = parseBearerChallenge(header);
    if (!challenge) {
      return {
        ...timing,
        check: { name, status: 'fail', detail: `HTTP 401 but no Bearer scheme in it (WWW-Authenticate: ${sanitizeServerText(header ?? 'absent', 120)})`, fix: 'the gateway does not use OAuth bearer tokens; it may need --header instead of a sign-in' },
      };
    }
    const parts = [
      challenge.resourceMetadata ? `resource_metadata ${challenge.resourceMetadata}` : 'no resource_metadata (the well-known location will be tried)',
      challenge.scope ? `scope "${challenge.scope}"` : undefined,
    ].filter(Boolean);
    return { ...timing, challenge, check: { name, status: 'ok', detail: `HTTP 401, WWW-Authenticate: Bearer (${parts.join(', ')})` } };
  }
  if (res.status >= 200 && res.status < 300) {
    return { ...timing, check: { name, status: 'ok', detail: `HTTP ${res.status}: the gateway answers without sign-in` } };
  }
  const fix = res.status === 404 ? 'check the path of the URL: it must be the MCP endpoint itself (often /mcp)' : 'the gateway is reachable but unhealthy; ask its operator';
  return { ...timing, check: { name, status: 'fail', detail: `HTTP ${res.status} to an unauthenticated initialize (expected 401)`, fix } };
}

function resourceMetadataFix(e: KeybridgeError | undefined): string {
  switch (e?.code) {
    case 'resource_mismatch':
      return 'if the gateway is reached under another name than its resource identifier, pass --resource <its URI>';
    case 'no_resource_metadata':
      return 'the gateway does not publish RFC 9728 metadata; ask its operator, or use --header with a static token';
    default:
      return 'check that the gateway is healthy and that its metadata URL is reachable from here';
  }
}

function authorizationServerFix(e: KeybridgeError | undefined, issuer: string): string {
  switch (e?.code) {
    case 'auth_server_unreachable':
    case 'oauth_http_status':
      return `the identity provider ${issuer} is down or unreachable from here: check it is up, and your network, VPN or HTTPS_PROXY`;
    case 'issuer_mismatch':
      return 'the identity provider is misconfigured (its metadata names another issuer); ask its operator';
    case 'pkce_unsupported':
      return 'the identity provider does not support PKCE S256; it cannot be used safely';
    case 'insecure_endpoint':
      return 'the identity provider uses plain http; pass --allow-http only if you accept tokens travelling unencrypted';
    default:
      return `check the identity provider ${issuer}`;
  }
}

interface RawDoctorFlags extends RawProfileFlags, RawPolicyFlags {
  connectTimeout: string;
  requestTimeout: string;
}

/** `doctor <url>`: flag wiring only. */
export function doctorCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = new Command('doctor')
    .description('check every link from this machine to the gateway and its identity provider, and say what to fix')
    .argument('<url>', 'the remote MCP gateway URL')
    .option('--allow-http', 'allow plain http to a non-loopback gateway or identity provider (unsafe)')
    .option('--connect-timeout <seconds>', 'TCP/TLS connect deadline', '10')
    .option('--request-timeout <seconds>', 'deadline for each HTTP request', '30')
    .option('--debug', 'more detail on stderr (secrets are always masked)');
  addProfileOptions(cmd);
  addPolicyOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ mcp-keybridge doctor https://gateway.example.com/mcp
  $ mcp-keybridge doctor https://gateway.example.com/mcp --token-store file
  $ mcp-keybridge doctor https://gateway.example.com/mcp --policy team-policy.json   (also prints the effective policy)

One line per link (✓ ok, ✗ failed, ! warning, - not checked); each ✗ says what to do.
Exit status 1 when a link fails. Nothing secret is printed, and nothing is changed.`,
  );
  cmd.action(async (url: string, raw: RawDoctorFlags) => {
    const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
    const { auth, storeKind } = toAuthOptions(serverUrl, raw, deps.env, false);
    // The policy is read (and a mistake in it reported) before any link is checked.
    const policy = policyRequested(raw) ? await loadEffectivePolicy(raw, deps.cwd) : undefined;
    setExitCode(
      await runDoctor(
        { auth, storeKind, connectTimeoutMs: seconds(raw.connectTimeout, '--connect-timeout'), requestTimeoutMs: seconds(raw.requestTimeout, '--request-timeout') },
        deps,
      ),
    );
    if (policy) {
      const { describePolicy } = await import('../policy/effectivePolicy.js');
      deps.stdout.write(`${describePolicy(policy)}\n`);
    }
  });
  return cmd;
}

function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} takes a positive number of seconds, got "${value}"`);
  return Math.round(n * 1000);
}
