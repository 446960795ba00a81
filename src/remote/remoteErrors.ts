import { RemoteUnavailableError } from '../errors.js';
import { redactShapes, type Redactor } from '../log/redact.js';
import { readText, type HttpResponse } from './httpClient.js';
import { NOT_WRITTEN } from './retryPolicy.js';

/** 401, or 403 with error="insufficient_scope" (step-up), are for the sign-in machinery. */
export function isAuthChallenge(res: HttpResponse): boolean {
  if (res.status === 401) return true;
  if (res.status !== 403) return false;
  const h = res.headers['www-authenticate'];
  const text = Array.isArray(h) ? h.join(', ') : (h ?? '');
  return /error\s*=\s*"?insufficient_scope/i.test(text);
}

const NETWORK_HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing is listening there: is the gateway running and the URL right?',
  ENOTFOUND: 'the host name does not resolve: check the URL, your network or VPN',
  EAI_AGAIN: 'DNS lookup failed for now: check your network or VPN',
  ECONNRESET: 'the connection was reset by the gateway or a proxy',
  ETIMEDOUT: 'the gateway did not answer in time',
  EHOSTUNREACH: 'the host is unreachable: check your network or VPN',
  CERT_HAS_EXPIRED: 'the gateway TLS certificate has expired',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the gateway TLS certificate is not trusted: for a private CA set NODE_EXTRA_CA_CERTS',
  SELF_SIGNED_CERT_IN_CHAIN: 'the gateway TLS certificate is not trusted: for a private CA set NODE_EXTRA_CA_CERTS',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the gateway TLS certificate is self-signed: set NODE_EXTRA_CA_CERTS to trust it',
};

/** A failed exchange as an actionable RemoteUnavailableError. */
export function describeNetworkError(err: unknown, url: URL): RemoteUnavailableError {
  if (err instanceof RemoteUnavailableError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === 'AbortError') return new RemoteUnavailableError('the request was abandoned (cancelled, or the bridge is shutting down)', { code: 'aborted', cause: err });
  const code = e?.code ?? 'ERROR';
  const reusedSocket = (err as { reusedSocket?: boolean })?.reusedSocket === true;
  // NOT_WRITTEN is for the retry policy; the user is told what happened (its cause's code and hint).
  const cause = code === NOT_WRITTEN ? ((err as { cause?: { code?: string; message?: string } }).cause ?? e) : e;
  const shown = cause?.code ?? code;
  const hint = NETWORK_HINTS[shown] ?? (cause?.message ?? 'unknown error');
  const out = new RemoteUnavailableError(`cannot reach the gateway at ${url.origin} (${shown}): ${hint}${code === NOT_WRITTEN ? ' (before the connection was up: the request was not sent)' : ''}`, {
    code: code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' ? 'unreachable' : 'network',
    cause: err,
  });
  out.networkCode = code;
  out.reusedSocket = reusedSocket;
  return out;
}

/**
 * A non-2xx answer that is not about auth, with a short excerpt of the body (never headers).
 * The excerpt is masked with the run's redactor: the message also goes to the IDE as a JSON-RPC
 * error (stdout, which IDEs log), and a gateway or proxy may echo the request's credentials back.
 */
export async function httpStatusError(res: HttpResponse, url: URL, redactor?: Pick<Redactor, 'redact'>): Promise<RemoteUnavailableError> {
  let excerpt = '';
  try {
    // Mask before cutting: a secret straddling the cut would otherwise leave its first characters.
    const text = await readText(res.body, 64 * 1024);
    excerpt = (redactor ? redactor.redact(text) : redactShapes(text)).slice(0, 300).replace(/\s+/g, ' ').trim();
  } catch {
    // the body is only a hint
  }
  const what =
    res.status >= 500
      ? 'the gateway failed'
      : res.status === 401 || res.status === 403
        ? 'the gateway refused the credentials'
        : 'the gateway rejected the request';
  return new RemoteUnavailableError(`${what}: HTTP ${res.status} from ${url.origin}${excerpt ? ` — ${excerpt}` : ''}`, {
    code: res.status >= 500 ? 'remote_5xx' : 'remote_4xx',
    status: res.status,
  });
}
