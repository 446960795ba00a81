/**
 * The bridge starts $BROWSER with a minimal environment (src/auth/browserEnv.ts), so the lab's
 * scripted browser gets its LAB_* settings only when MCP_KEYBRIDGE_BROWSER_ENV names them. Spread
 * this into the environment of a bridge whose $BROWSER is scripts/lab/scriptedBrowser.ts.
 */
export const SCRIPTED_BROWSER_ENV = {
  MCP_KEYBRIDGE_BROWSER_ENV: 'LAB_BROWSER_LOG,LAB_BROWSER_NOOP,LAB_BROWSER_DENY,LAB_USER,LAB_PASSWORD',
} as const;
