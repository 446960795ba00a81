/** Limits of the one-line summary shown in an approval question. */
export interface SummaryLimits {
  maxKeys: number;
  maxValueChars: number;
  maxTotalChars: number;
}

const DEFAULT_LIMITS: SummaryLimits = { maxKeys: 8, maxValueChars: 60, maxTotalChars: 400 };

/** Argument names whose values are never shown, whatever they hold. */
const SECRET_KEY = /pass(word|phrase)?|secret|token|api[-_]?key|private[-_]?key|credential|authorization|cookie|session/i;

/**
 * Control characters (C0, DEL, C1), bidirectional overrides and isolates, zero-width and line
 * separators: what could make a question read differently from what it says (Trojan Source,
 * CVE-2021-42574) or break its layout.
 */
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/** One line of text with unsafe characters replaced and cut to `max` characters. */
export function sanitizeText(text: string, max: number): string {
  const clean = text.replace(UNSAFE_CHARS, '\ufffd');
  const chars = [...clean];
  return chars.length <= max ? clean : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

function describeValue(value: unknown, limits: SummaryLimits): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(sanitizeText(value, limits.maxValueChars));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? '' : 's'}]`;
  if (typeof value === 'object') {
    const n = Object.keys(value).length;
    return `{${n} field${n === 1 ? '' : 's'}}`;
  }
  return typeof value;
}

/**
 * A short, sanitized summary of a tool call's arguments for a person to judge ("branch: "main",
 * force: true"): top-level fields only, strings cut short, nested values counted, not shown;
 * fields named like secrets hidden; the result passed through `redact` (token shapes masked).
 */
export function summarizeArguments(args: unknown, redact: (text: string) => string, limits: SummaryLimits = DEFAULT_LIMITS): string {
  if (args === undefined || args === null) return '(none)';
  if (typeof args !== 'object' || Array.isArray(args)) return redact(describeValue(args, limits));
  const entries = Object.entries(args as Record<string, unknown>);
  if (entries.length === 0) return '(none)';
  const parts = entries.slice(0, limits.maxKeys).map(([key, value]) => {
    const name = sanitizeText(key, 40);
    return `${name}: ${SECRET_KEY.test(key) && value !== null && value !== undefined ? '(hidden)' : describeValue(value, limits)}`;
  });
  if (entries.length > limits.maxKeys) parts.push(`and ${entries.length - limits.maxKeys} more`);
  return sanitizeText(redact(parts.join(', ')), limits.maxTotalChars);
}
