import { globToRegExp } from './glob.js';

/** Tool annotations as servers send them in tools/list (MCP "ToolAnnotations"). */
export interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
}

export interface ToolPolicyOptions {
  allow: string[];
  deny: string[];
  denyDestructive: boolean;
  readOnly: boolean;
}

/** Why a tool is refused, naming the rule; undefined when it is allowed. */
export type Verdict = { refusedBy: string } | undefined;

/**
 * Which tools the agent may reach. Deny always wins over allow; with allow rules present, a tool
 * must match one. Annotation rules need the tool's annotations from tools/list: a tool whose
 * annotations were never seen is refused under those rules (fail closed).
 */
export class ToolPolicy {
  private readonly allow: { glob: string; re: RegExp }[];
  private readonly deny: { glob: string; re: RegExp }[];

  constructor(private readonly opts: ToolPolicyOptions) {
    this.allow = opts.allow.map((glob) => ({ glob, re: globToRegExp(glob) }));
    this.deny = opts.deny.map((glob) => ({ glob, re: globToRegExp(glob) }));
  }

  /** True when any rule is configured (otherwise the relay skips all policy work). */
  get active(): boolean {
    return this.allow.length > 0 || this.deny.length > 0 || this.opts.denyDestructive || this.opts.readOnly;
  }

  /** Does the verdict depend on annotations? */
  get needsAnnotations(): boolean {
    return this.opts.denyDestructive || this.opts.readOnly;
  }

  /** The verdict for a tool; annotations is undefined when tools/list never described it. */
  check(name: string, annotations: ToolAnnotations | undefined, known: boolean): Verdict {
    const denied = this.deny.find((d) => d.re.test(name));
    if (denied) return { refusedBy: `--deny-tool ${denied.glob}` };
    if (this.allow.length > 0 && !this.allow.some((a) => a.re.test(name))) {
      return { refusedBy: `--allow-tool (no rule matches "${name}")` };
    }
    if (this.needsAnnotations && !known) {
      return { refusedBy: `${this.opts.readOnly ? '--read-only' : '--deny-destructive'} (the gateway has not described "${name}" in tools/list)` };
    }
    if (this.opts.readOnly && annotations?.readOnlyHint !== true) return { refusedBy: '--read-only (not annotated readOnlyHint: true)' };
    if (this.opts.denyDestructive && annotations?.destructiveHint === true) return { refusedBy: '--deny-destructive (annotated destructiveHint: true)' };
    return undefined;
  }
}
