import { fetch } from 'undici';

export interface CompleteLoginOptions {
  username?: string;
  password?: string;
  /** Press "Cancel" on the first page so the callback receives error=access_denied. */
  deny?: boolean;
  /** Per-request timeout, default 10 s. */
  fetchTimeoutMs?: number;
  /**
   * false: stop at the redirect to the callback and return its URL without requesting it, as a
   * browser on another machine would (callbackStatus 0, callbackBody ''). Default true.
   */
  deliverCallback?: boolean;
}

export interface CompleteLoginResult {
  callbackUrl: string;
  callbackStatus: number;
  callbackBody: string;
}

const MAX_HOPS = 20;

interface Cookie {
  name: string;
  value: string;
  path: string;
}

/** Just enough of a cookie jar for one host: name+path keyed, expiry via Max-Age/Expires removal. */
class CookieJar {
  readonly #cookies = new Map<string, Cookie>();

  store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: Cookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), path: '/' };
      let expired = false;
      for (const attr of attrs) {
        const [k = '', v = ''] = attr.split('=');
        const key = k.toLowerCase();
        if (key === 'path' && v) cookie.path = v;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const id = `${cookie.name};${cookie.path}`;
      if (expired || cookie.value === '') this.#cookies.delete(id);
      else this.#cookies.set(id, cookie);
    }
  }

  header(url: URL): string | undefined {
    const matching = [...this.#cookies.values()].filter(
      (c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
    );
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }
}

interface Form {
  id?: string;
  action: string;
  method: string;
  fields: { name: string; value: string; type: string }[];
}

function decodeEntities(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? _m);
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:.-]+)\s*=\s*"([^"]*)"/g)) {
    out[m[1]!.toLowerCase()] = decodeEntities(m[2]!);
  }
  return out;
}

function parseForms(html: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(m[1]!);
    const fields = [...m[2]!.matchAll(/<input\b([^>]*)>/gi)]
      .map((i) => attributes(i[1]!))
      .filter((a) => a.name !== undefined)
      .map((a) => ({ name: a.name!, value: a.value ?? '', type: (a.type ?? 'text').toLowerCase() }));
    forms.push({ id: attrs.id, action: attrs.action ?? '', method: (attrs.method ?? 'get').toUpperCase(), fields });
  }
  return forms;
}

function pageSummary(status: number, html: string): string {
  const title = /<title>([^<]*)<\/title>/i.exec(html)?.[1] ?? '';
  const text = html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return `HTTP ${status} "${decodeEntities(title)}": ${decodeEntities(text).slice(0, 300)}`;
}

function isCallback(location: URL, redirectUri: URL | undefined, idpOrigin: string): boolean {
  if (redirectUri) return location.origin === redirectUri.origin && location.pathname === redirectUri.pathname;
  return location.origin !== idpOrigin;
}

/** One browser hop: the jar's cookies sent, new ones kept, redirects not followed. */
async function browse(jar: CookieJar, url: URL, method: string, body: string | undefined, timeoutMs: number): Promise<{ res: Awaited<ReturnType<typeof fetch>>; text: string }> {
  const headers: Record<string, string> = { accept: 'text/html' };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(url, { method, body, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  jar.store(res.headers.getSetCookie());
  return { res, text: await res.text() };
}

/**
 * Act like a user in a browser, over plain HTTP: load the authorization URL, sign in on the lab
 * login form, press Continue on consent (or Cancel when `deny`), follow redirects until the one to
 * the client's redirect_uri, GET that callback and report what the client's callback server said.
 */
export async function completeLogin(authorizationUrl: string, opts: CompleteLoginOptions = {}): Promise<CompleteLoginResult> {
  const timeoutMs = opts.fetchTimeoutMs ?? 10_000;
  const start = new URL(authorizationUrl);
  const redirectParam = start.searchParams.get('redirect_uri');
  const redirectUri = redirectParam ? new URL(redirectParam) : undefined;
  const jar = new CookieJar();
  let url = start;
  let method = 'GET';
  let body: string | undefined;
  let postedCredentials = false;

  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    const { res, text } = await browse(jar, url, method, body, timeoutMs);

    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      if (!location) throw new Error(`redirect without Location from ${url.href}`);
      const next = new URL(location, url);
      if (isCallback(next, redirectUri, start.origin)) {
        if (opts.deliverCallback === false) return { callbackUrl: next.href, callbackStatus: 0, callbackBody: '' };
        const callback = await fetch(next, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
        return { callbackUrl: next.href, callbackStatus: callback.status, callbackBody: await callback.text() };
      }
      url = next;
      method = 'GET';
      body = undefined;
      continue;
    }

    const forms = parseForms(text);
    const login = forms.find((f) => f.id === 'login-form');
    const consent = forms.find((f) => f.id === 'consent-form');
    const abort = forms.find((f) => f.id === 'abort-form');
    let chosen: Form | undefined;
    const values = new URLSearchParams();
    if (login && postedCredentials) {
      throw new Error(`sign-in was rejected: ${pageSummary(res.status, text)}`);
    } else if ((login || consent) && opts.deny) {
      chosen = abort;
    } else if (login) {
      chosen = login;
      postedCredentials = true;
      for (const f of login.fields) {
        if (f.name === 'username') values.set(f.name, opts.username ?? 'alice');
        else if (f.name === 'password') values.set(f.name, opts.password ?? 'wonderland');
        else values.set(f.name, f.value);
      }
    } else if (consent) {
      chosen = consent;
    }
    if (!chosen) throw new Error(`unexpected page at ${url.href}: ${pageSummary(res.status, text)}`);
    if (chosen !== login) for (const f of chosen.fields) values.set(f.name, f.value);
    url = new URL(chosen.action || url.href, url);
    method = chosen.method;
    body = method === 'POST' ? values.toString() : undefined;
    if (method === 'GET') for (const [k, v] of values) url.searchParams.set(k, v);
  }
  throw new Error(`no redirect to the client after ${MAX_HOPS} hops`);
}

export interface CompleteDeviceLoginOptions {
  username?: string;
  password?: string;
  /** Press "Abort" on the device confirmation page (the polling client then gets access_denied). */
  deny?: boolean;
  /** Per-request timeout, default 10 s. */
  fetchTimeoutMs?: number;
}

/**
 * Act like a user on a second device for the RFC 8628 device flow: open the verification URI,
 * enter the user code, confirm it (or Abort when `deny`), sign in on the lab login form and press
 * Continue on consent, until the provider's success page. Resolves with the final page's summary.
 */
export async function completeDeviceLogin(verificationUri: string, userCode: string, opts: CompleteDeviceLoginOptions = {}): Promise<string> {
  const timeoutMs = opts.fetchTimeoutMs ?? 10_000;
  const jar = new CookieJar();
  let url = new URL(verificationUri);
  let method = 'GET';
  let body: string | undefined;
  let enteredCode = false;
  let postedCredentials = false;
  let aborted = false;
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    const { res, text } = await browse(jar, url, method, body, timeoutMs);
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      if (!location) throw new Error(`redirect without Location from ${url.href}`);
      url = new URL(location, url);
      method = 'GET';
      body = undefined;
      continue;
    }
    // After Abort the provider shows its result (the code-entry page with an error): that is the end.
    if (text.includes('id="device-success"') || aborted) return pageSummary(res.status, text);
    const forms = parseForms(text);
    const input = forms.find((f) => f.id === 'op.deviceInputForm');
    const confirm = forms.find((f) => f.id === 'op.deviceConfirmForm');
    const login = forms.find((f) => f.id === 'login-form');
    const consent = forms.find((f) => f.id === 'consent-form');
    const values = new URLSearchParams();
    let chosen: Form | undefined;
    if (input) {
      if (enteredCode) throw new Error(`the user code was not accepted: ${pageSummary(res.status, text)}`);
      enteredCode = true;
      chosen = input;
      for (const f of input.fields) values.set(f.name, f.name === 'user_code' ? userCode : f.value);
    } else if (confirm) {
      chosen = confirm;
      for (const f of confirm.fields) values.set(f.name, f.value);
      if (opts.deny) {
        values.set('abort', 'yes');
        aborted = true;
      }
    } else if (login) {
      if (postedCredentials) throw new Error(`sign-in was rejected: ${pageSummary(res.status, text)}`);
      postedCredentials = true;
      chosen = login;
      for (const f of login.fields) {
        if (f.name === 'username') values.set(f.name, opts.username ?? 'alice');
        else if (f.name === 'password') values.set(f.name, opts.password ?? 'wonderland');
        else values.set(f.name, f.value);
      }
    } else if (consent) {
      chosen = consent;
      for (const f of consent.fields) values.set(f.name, f.value);
    }
    if (!chosen) return pageSummary(res.status, text); // a final page (e.g. the abort result)
    url = new URL(chosen.action || url.href, url);
    method = chosen.method;
    body = method === 'POST' ? values.toString() : undefined;
    if (method === 'GET') for (const [k, v] of values) url.searchParams.set(k, v);
  }
  throw new Error(`the device sign-in did not finish after ${MAX_HOPS} hops`);
}
