import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Deps } from '../deps.js';
import { bridgeEntries } from './clients/clientEntry.js';
import type { ClientLocation, ClientSpec } from './clients/clientSpec.js';
import { openDocument } from './clients/configDocument.js';
import { clientFile } from './clients/registry.js';

/** One line of `config --list`. */
export interface ListedEntry {
  client: string;
  scope: string;
  file: string;
  name?: string;
  url?: string;
  problem?: string;
}

/** Same gateway, ignoring a trailing slash and the case of scheme and host. */
function sameGateway(a: string, b: string): boolean {
  try {
    const norm = (u: string): string => new URL(u).href.replace(/\/+$/, '');
    return norm(a) === norm(b);
  } catch {
    return a === b;
  }
}

/** The files a client may have for a scope: one, or (one file per server) every file in its folder. */
async function filesOf(spec: ClientSpec, loc: ClientLocation, scope: (typeof spec.scopes)[number]): Promise<string[]> {
  const a = spec.file(loc, scope, 'a');
  if (a === spec.file(loc, scope, 'b')) return [clientFile(spec, loc, scope, 'a')];
  const dir = path.dirname(a);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith(path.extname(a))).map((n) => path.join(dir, n));
}

/** Every entry that runs mcp-keybridge in the known clients' files (for one gateway when url is given). */
export async function listBridgeEntries(opts: { url?: string; clients: readonly ClientSpec[] }, loc: ClientLocation): Promise<ListedEntry[]> {
  const out: ListedEntry[] = [];
  for (const spec of opts.clients) {
    for (const scope of spec.scopes) {
      for (const file of await filesOf(spec, loc, scope)) {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch {
          continue;
        }
        try {
          for (const found of bridgeEntries(openDocument(spec.format, text), spec, loc, scope)) {
            if (opts.url && !(found.url && sameGateway(found.url, opts.url))) continue;
            out.push({ client: spec.id, scope, file, ...found });
          }
        } catch (err) {
          out.push({ client: spec.id, scope, file, problem: (err as Error).message });
        }
      }
    }
  }
  return out;
}

/** `config --list`: one line per entry on stdout (client, scope, name, gateway, file). */
export async function runConfigList(opts: { url?: string; clients: readonly ClientSpec[] }, deps: Deps): Promise<number> {
  const loc: ClientLocation = { homeDir: deps.homeDir, cwd: deps.cwd, platform: deps.platform, env: deps.env };
  const entries = await listBridgeEntries(opts, loc);
  for (const e of entries) {
    if (e.problem) deps.stdout.write(`${e.client}\t${e.scope}\t(unreadable: ${e.problem})\t\t${e.file}\n`);
    else deps.stdout.write(`${e.client}\t${e.scope}\t${e.name}\t${e.url ?? '-'}\t${e.file}\n`);
  }
  if (entries.length === 0) deps.log.say(opts.url ? `No client config has an mcp-keybridge entry for ${opts.url}.` : 'No client config has an mcp-keybridge entry.');
  return 0;
}
