import { randomUUID } from 'node:crypto';
import { KeybridgeError } from '../../errors.js';

/** Rounds of input_required one IDE request may go through before the bridge gives up. */
export const MAX_INPUT_ROUNDS = 8;

/** The requests that may answer input_required (2026-07-28 MRTR, "Supported Requests"). */
export const INPUT_REQUIRED_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** What an InputRequiredResult asks for. */
export interface InputRequired {
  inputRequests: Record<string, { method: string; params?: unknown }>;
  /** Echoed back exactly, never read; absent when the server sent none. */
  requestState?: string;
}

/** The input_required part of a result, or undefined for a complete one (no resultType means complete). */
export function inputRequiredOf(result: unknown): InputRequired | undefined {
  const r = result as { resultType?: unknown; inputRequests?: unknown; requestState?: unknown } | undefined;
  if (!r || r.resultType !== 'input_required') return undefined;
  const inputRequests: InputRequired['inputRequests'] = {};
  if (r.inputRequests && typeof r.inputRequests === 'object' && !Array.isArray(r.inputRequests)) {
    for (const [key, req] of Object.entries(r.inputRequests as Record<string, unknown>)) {
      const method = (req as { method?: unknown } | undefined)?.method;
      if (typeof method === 'string') inputRequests[key] = { method, params: (req as { params?: unknown }).params };
    }
  }
  return { inputRequests, ...(typeof r.requestState === 'string' ? { requestState: r.requestState } : {}) };
}

/** The gateway asked for something the IDE did not declare it can do. */
export class MissingIdeCapability extends KeybridgeError {
  constructor(readonly capability: string, method: string) {
    super(`the gateway asked for ${method}, but this client did not declare the ${capability} capability`, { code: 'missing_client_capability' });
  }
}

/**
 * Fulfil an InputRequiredResult's requests through the IDE, as the 2025 server-to-client requests
 * it knows (elicitation/create, sampling/createMessage, roots/list). Only capabilities the IDE
 * declared are used. A URL-mode elicitation gets the elicitationId a 2025 IDE requires (2026-07-28
 * dropped it). Resolves with the inputResponses map for the retry.
 */
export async function fulfilInputRequests(opts: {
  input: InputRequired;
  ideCapabilities: Record<string, unknown>;
  ask: (method: string, params: unknown) => Promise<unknown>;
}): Promise<{ responses: Record<string, unknown>; urlElicitations: string[] }> {
  const urlElicitations: string[] = [];
  const entries = Object.entries(opts.input.inputRequests).map(([key, req]) => {
    const { method } = req;
    let params = req.params;
    if (method === 'elicitation/create') {
      const elicitation = opts.ideCapabilities.elicitation as Record<string, unknown> | undefined;
      const mode = (params as { mode?: unknown } | undefined)?.mode;
      if (!elicitation) throw new MissingIdeCapability('elicitation', method);
      if (mode === 'url') {
        if (!elicitation.url) throw new MissingIdeCapability('elicitation.url', method);
        const given = (params as { elicitationId?: unknown }).elicitationId;
        const elicitationId = typeof given === 'string' ? given : randomUUID();
        urlElicitations.push(elicitationId);
        params = { ...(params as object), elicitationId };
      }
    } else if (method === 'sampling/createMessage') {
      if (!opts.ideCapabilities.sampling) throw new MissingIdeCapability('sampling', method);
    } else if (method === 'roots/list') {
      if (!opts.ideCapabilities.roots) throw new MissingIdeCapability('roots', method);
    } else {
      throw new MissingIdeCapability(method, method);
    }
    return [key, method, params] as const;
  });
  const results = await Promise.all(entries.map(([, method, params]) => opts.ask(method, params)));
  const responses: Record<string, unknown> = {};
  entries.forEach(([key], i) => {
    responses[key] = results[i];
  });
  return { responses, urlElicitations };
}
