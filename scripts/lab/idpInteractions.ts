import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { consentPage, errorPage, loginPage } from './idpPages.js';

/** A user the lab identity provider knows. */
export interface LabUser {
  username: string;
  password: string;
  email?: string;
  name?: string;
}

const MAX_FORM_BYTES = 64 * 1024;

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_FORM_BYTES) throw new Error('form too large');
    chunks.push(buf);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
  });
  res.end(html);
}

export interface InteractionRoutesOptions {
  provider: Provider;
  users: LabUser[];
  /** Path prefix of the issuer ('' or e.g. '/tenant-a'). */
  mountPath: string;
}

/**
 * The login and consent screens (our own, instead of oidc-provider's devInteractions, which
 * accept any password). Returns false when the path is not an interaction route.
 */
export async function handleInteraction(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  opts: InteractionRoutesOptions,
): Promise<boolean> {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/.exec(pathname);
  if (!match) return false;
  const [, uid, action] = match;
  const { provider, users, mountPath } = opts;
  const base = `${mountPath}/interaction/${uid}`;

  let details: Awaited<ReturnType<Provider['interactionDetails']>>;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (error) {
    sendHtml(res, 400, errorPage({ error: 'invalid_request', error_description: `interaction not found or expired (${(error as Error).message})` }));
    return true;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, errorPage({ error: 'invalid_request', error_description: 'interaction mismatch' }));
    return true;
  }
  const client = await provider.Client.find(String(details.params.client_id));
  const clientName = client?.clientName ?? String(details.params.client_id);
  const { prompt } = details;

  if (action === 'abort') {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    return true;
  }

  if (action === undefined) {
    if (req.method !== 'GET') {
      sendHtml(res, 405, errorPage({ error: 'method_not_allowed' }));
      return true;
    }
    if (prompt.name === 'login') {
      const loginHint = typeof details.params.login_hint === 'string' ? details.params.login_hint : undefined;
      sendHtml(res, 200, loginPage({ clientName, submitUrl: `${base}/login`, abortUrl: `${base}/abort`, loginHint }));
    } else if (prompt.name === 'consent') {
      const d = prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
      sendHtml(
        res,
        200,
        consentPage({ clientName, scopes: d.missingOIDCScope ?? [], resources: d.missingResourceScopes ?? {}, submitUrl: `${base}/confirm`, abortUrl: `${base}/abort` }),
      );
    } else {
      sendHtml(res, 501, errorPage({ error: 'not_implemented', prompt: prompt.name }));
    }
    return true;
  }

  if (req.method !== 'POST') {
    sendHtml(res, 405, errorPage({ error: 'method_not_allowed' }));
    return true;
  }

  if (action === 'login') {
    const form = await readForm(req);
    const user = users.find((u) => u.username === form.get('username'));
    if (prompt.name !== 'login' || !user || user.password !== form.get('password')) {
      sendHtml(
        res,
        401,
        loginPage({ clientName, submitUrl: `${base}/login`, abortUrl: `${base}/abort`, error: prompt.name !== 'login' ? 'No sign-in is pending.' : 'Invalid username or password.' }),
      );
      return true;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user.username } }, { mergeWithLastSubmission: false });
    return true;
  }

  // action === 'confirm': grant everything that was asked (the lab auto-approves on Continue).
  await readForm(req);
  if (prompt.name !== 'consent') {
    sendHtml(res, 400, errorPage({ error: 'invalid_request', error_description: 'no consent is pending' }));
    return true;
  }
  const d = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  const accountId = details.session?.accountId;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
  if (!grant) {
    sendHtml(res, 400, errorPage({ error: 'invalid_request', error_description: 'grant not found' }));
    return true;
  }
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  return true;
}
