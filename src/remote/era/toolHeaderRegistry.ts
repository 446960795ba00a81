import type { Logger } from '../../log/logger.js';
import { headerParamsOf, paramHeaders, type HeaderParam } from './requestHeaders.js';

/**
 * The Mcp-Param-* designations of the tools the gateway listed (the last tools/list wins per
 * tool), and the tools/list filter that drops tools whose x-mcp-header annotations are invalid:
 * a client on Streamable HTTP MUST exclude them and SHOULD warn (SEP-2243).
 */
export class ToolHeaderRegistry {
  private readonly byTool = new Map<string, HeaderParam[]>();

  constructor(private readonly log: Logger) {}

  /** The Mcp-Param-* headers for a call of `name` with `args` (none for a tool never listed). */
  headersFor(name: unknown, args: unknown): Record<string, string> {
    const params = typeof name === 'string' ? this.byTool.get(name) : undefined;
    return params && params.length > 0 ? paramHeaders(params, args) : {};
  }

  /**
   * Note a tools/list result's tools and remove the invalid ones. Returns the result to hand on:
   * the same object when nothing was removed (so the bytes received can be relayed as they are).
   */
  admit(result: unknown): { result: unknown; removed: number } {
    const tools = (result as { tools?: unknown } | undefined)?.tools;
    if (!Array.isArray(tools)) return { result, removed: 0 };
    const kept: unknown[] = [];
    for (const tool of tools) {
      const t = tool as { name?: unknown; inputSchema?: unknown };
      const verdict = headerParamsOf(t?.inputSchema);
      if ('invalid' in verdict) {
        this.log.warn(`the gateway's tool ${JSON.stringify(t?.name)} was left out of tools/list: ${verdict.invalid} (SEP-2243)`);
        if (typeof t?.name === 'string') this.byTool.delete(t.name);
        continue;
      }
      if (typeof t?.name === 'string') this.byTool.set(t.name, verdict.params);
      kept.push(tool);
    }
    const removed = tools.length - kept.length;
    return removed === 0 ? { result, removed } : { result: { ...(result as object), tools: kept }, removed };
  }
}
