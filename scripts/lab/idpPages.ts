/**
 * HTML for the lab identity provider. Every page is self-contained (no external fonts or
 * scripts: all traffic stays on 127.0.0.1) and uses stable ids so both the scripted login
 * (plain HTTP) and a headless Chromium can drive it.
 *
 * Login page:   <form id="login-form" method="post" action=".../interaction/<uid>/login">
 *                 <input id="username" name="username">  <input id="password" name="password" type="password">
 *                 <button id="sign-in" type="submit">Sign in</button>
 *               <form id="abort-form" method="post" action=".../interaction/<uid>/abort">
 *                 <button id="cancel" type="submit">Cancel</button>
 *               A wrong password re-renders the login page (HTTP 401) with <p id="login-error">.
 * Consent page: <form id="consent-form" method="post" action=".../interaction/<uid>/confirm">
 *                 <button id="continue" type="submit">Continue</button>
 *               plus the same abort form (#cancel).
 */

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const STYLE =
  'body{font-family:sans-serif;margin:2em auto;max-width:24em}label{display:block;margin:.5em 0}' +
  'input{width:100%;padding:.4em;box-sizing:border-box}button{margin-top:.6em;padding:.4em 1em}.error{color:#b00}';

/** Wrap a body in a minimal HTML document. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>`;
}

function abortForm(abortUrl: string): string {
  return `<form id="abort-form" method="post" action="${escapeHtml(abortUrl)}"><button id="cancel" type="submit" name="abort" value="1">Cancel</button></form>`;
}

export interface LoginPageInput {
  clientName: string;
  submitUrl: string;
  abortUrl: string;
  loginHint?: string;
  error?: string;
}

/** The sign-in form (see the module comment for its field names). */
export function loginPage(input: LoginPageInput): string {
  const error = input.error ? `<p id="login-error" class="error" role="alert">${escapeHtml(input.error)}</p>` : '';
  const hint = input.loginHint ? ` value="${escapeHtml(input.loginHint)}"` : '';
  return page(
    'Sign in',
    `<p>to continue to <strong id="client-name">${escapeHtml(input.clientName)}</strong></p>
${error}
<form id="login-form" method="post" action="${escapeHtml(input.submitUrl)}" autocomplete="off">
  <label for="username">Username</label>
  <input id="username" name="username" type="text" autocomplete="username" required autofocus${hint}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button id="sign-in" type="submit">Sign in</button>
</form>
${abortForm(input.abortUrl)}`,
  );
}

export interface ConsentPageInput {
  clientName: string;
  scopes: string[];
  resources: Record<string, string[]>;
  submitUrl: string;
  abortUrl: string;
}

/** The consent page: a list of what is asked, a Continue button and a Cancel button. */
export function consentPage(input: ConsentPageInput): string {
  const scopes = input.scopes.map((s) => `<li class="scope">${escapeHtml(s)}</li>`).join('');
  const resources = Object.entries(input.resources)
    .map(([r, s]) => `<li class="resource">${escapeHtml(r)}: ${s.map(escapeHtml).join(' ')}</li>`)
    .join('');
  return page(
    'Authorize',
    `<p><strong id="client-name">${escapeHtml(input.clientName)}</strong> asks for access.</p>
<ul id="requested">${scopes}${resources}</ul>
<form id="consent-form" method="post" action="${escapeHtml(input.submitUrl)}">
  <button id="continue" type="submit" autofocus>Continue</button>
</form>
${abortForm(input.abortUrl)}`,
  );
}

/** Error page used for oidc-provider's renderError and for broken interactions. */
export function errorPage(out: Record<string, unknown>): string {
  const rows = Object.entries(out)
    .map(([k, v]) => `<pre><strong>${escapeHtml(k)}</strong>: <span class="${escapeHtml(k)}">${escapeHtml(String(v))}</span></pre>`)
    .join('');
  return page('Something went wrong', `<div id="error">${rows}</div>`);
}

/** Device flow (RFC 8628) user-code entry page; `form` is the provider's form (id op.deviceInputForm). */
export function deviceInputPage(form: string, error: boolean): string {
  const msg = error ? '<p id="device-error" class="error">The code is incorrect or the request was interrupted.</p>' : '<p>Enter the code displayed on your device</p>';
  return page('Device sign-in', `${msg}${form}<button id="device-continue" type="submit" form="op.deviceInputForm">Continue</button>`);
}

/** Device flow confirmation page; `form` is the provider's form (id op.deviceConfirmForm). */
export function deviceConfirmPage(form: string, clientName: string, userCode: string): string {
  return page(
    'Confirm device',
    `<p><strong id="client-name">${escapeHtml(clientName)}</strong> shows the code <code id="user-code">${escapeHtml(userCode)}</code></p>
${form}
<button id="device-confirm" type="submit" form="op.deviceConfirmForm">Continue</button>
<button id="device-abort" type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`,
  );
}
