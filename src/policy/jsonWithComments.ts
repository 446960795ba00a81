/** A parsed JSON value that remembers the line it started on (1-based), for errors that name it. */
export type JsonNode =
  | { type: 'object'; line: number; members: { key: string; line: number; value: JsonNode }[] }
  | { type: 'array'; line: number; items: JsonNode[] }
  | { type: 'string'; line: number; value: string }
  | { type: 'number'; line: number; value: number }
  | { type: 'boolean'; line: number; value: boolean }
  | { type: 'null'; line: number };

/** A syntax error at a line. */
export class JsonSyntaxError extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
  }
}

const MAX_DEPTH = 64;

/**
 * JSON plus // and /* *\/ comments and trailing commas (the "JSON with comments" of editor
 * settings files). Duplicate keys are an error: a policy must not mean two things.
 */
export function parseJsonWithComments(text: string): JsonNode {
  const p = new Parser(text.replace(/^\uFEFF/, ''));
  p.skip();
  const node = p.value(0);
  p.skip();
  if (!p.done()) p.fail('unexpected text after the end of the document');
  return node;
}

class Parser {
  private pos = 0;
  private line = 1;

  constructor(private readonly s: string) {}

  done(): boolean {
    return this.pos >= this.s.length;
  }

  fail(message: string): never {
    throw new JsonSyntaxError(this.line, message);
  }

  /** Skip whitespace and comments, counting lines. */
  skip(): void {
    for (;;) {
      const c = this.s[this.pos];
      if (c === '\n') {
        this.line++;
        this.pos++;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        this.pos++;
      } else if (c === '/' && this.s[this.pos + 1] === '/') {
        while (this.pos < this.s.length && this.s[this.pos] !== '\n') this.pos++;
      } else if (c === '/' && this.s[this.pos + 1] === '*') {
        const end = this.s.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail('a /* comment is never closed');
        for (let i = this.pos; i < end; i++) if (this.s[i] === '\n') this.line++;
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    const line = this.line;
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth, line);
    if (c === '[') return this.array(depth, line);
    if (c === '"') return { type: 'string', line, value: this.string() };
    for (const [word, node] of [['true', { type: 'boolean', line, value: true }], ['false', { type: 'boolean', line, value: false }], ['null', { type: 'null', line }]] as const) {
      if (this.s.startsWith(word, this.pos)) {
        this.pos += word.length;
        return node;
      }
    }
    const num = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.pos, this.pos + 64));
    if (num) {
      this.pos += num[0].length;
      return { type: 'number', line, value: Number(num[0]) };
    }
    this.fail(c === undefined ? 'the document ends where a value was expected' : `unexpected ${JSON.stringify(c)} where a value was expected`);
  }

  private object(depth: number, line: number): JsonNode {
    this.pos++;
    const members: { key: string; line: number; value: JsonNode }[] = [];
    const seen = new Set<string>();
    for (;;) {
      this.skip();
      if (this.s[this.pos] === '}') {
        this.pos++;
        return { type: 'object', line, members };
      }
      if (this.s[this.pos] !== '"') this.fail('expected a "quoted" key or }');
      const keyLine = this.line;
      const key = this.string();
      if (seen.has(key)) this.fail(`the key "${key}" appears twice in one object`);
      seen.add(key);
      this.skip();
      if (this.s[this.pos] !== ':') this.fail(`expected : after the key "${key}"`);
      this.pos++;
      this.skip();
      members.push({ key, line: keyLine, value: this.value(depth + 1) });
      this.skip();
      if (this.s[this.pos] === ',') this.pos++;
      else if (this.s[this.pos] !== '}') this.fail(`expected , or } after the value of "${key}"`);
    }
  }

  private array(depth: number, line: number): JsonNode {
    this.pos++;
    const items: JsonNode[] = [];
    for (;;) {
      this.skip();
      if (this.s[this.pos] === ']') {
        this.pos++;
        return { type: 'array', line, items };
      }
      items.push(this.value(depth + 1));
      this.skip();
      if (this.s[this.pos] === ',') this.pos++;
      else if (this.s[this.pos] !== ']') this.fail('expected , or ] in a list');
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c === '\\') this.pos += 2;
      else if (c === '"') break;
      else if (c === '\n') this.fail('a string is not closed on its line');
      else this.pos++;
    }
    if (this.pos >= this.s.length) this.fail('a string is never closed');
    this.pos++;
    try {
      return JSON.parse(this.s.slice(start, this.pos)) as string;
    } catch {
      this.fail('a string has an invalid escape or control character');
    }
  }
}
