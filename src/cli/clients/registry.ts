import { existsSync } from 'node:fs';
import type { ClientLocation, ClientSpec, ConfigScope } from './clientSpec.js';
import { CODEX } from './codexClient.js';
import { JSON_CLIENTS } from './jsonClients.js';
import { CONTINUE, GOOSE } from './yamlClients.js';

/** Every client `config` can write an entry for, in the order `config --list` shows them. */
export const CLIENTS: readonly ClientSpec[] = [...JSON_CLIENTS, CODEX, GOOSE, CONTINUE];

export const CLIENT_IDS: readonly string[] = CLIENTS.map((c) => c.id);

/** The spec of a client id (validated by commander's choices before this is reached). */
export function clientSpec(id: string): ClientSpec {
  const spec = CLIENTS.find((c) => c.id === id);
  if (!spec) throw new Error(`unknown MCP client ${id}`);
  return spec;
}

/** The client's file for this scope: an existing alternative name (opencode.jsonc) wins over the default. */
export function clientFile(spec: ClientSpec, loc: ClientLocation, scope: ConfigScope, name: string): string {
  const existing = (spec.alternatives?.(loc, scope) ?? []).find((f) => existsSync(f));
  return existing ?? spec.file(loc, scope, name);
}
