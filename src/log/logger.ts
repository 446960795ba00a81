import { Redactor } from './redact.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Anything with a write(string) method: process.stderr in production, a buffer in tests. */
export interface TextSink {
  write(chunk: string): unknown;
}

/** The one logger: writes to stderr only, every line through the redactor. */
export class Logger {
  readonly redactor: Redactor;
  private readonly sink: TextSink;
  private readonly level: number;
  private readonly prefix: string;

  constructor(opts: { sink: TextSink; level?: LogLevel; redactor?: Redactor; prefix?: string }) {
    this.sink = opts.sink;
    this.level = ORDER[opts.level ?? 'info'];
    this.redactor = opts.redactor ?? new Redactor();
    this.prefix = opts.prefix ?? 'mcp-keybridge';
  }

  get debugEnabled(): boolean {
    return this.level >= ORDER.debug;
  }

  error(msg: string): void {
    this.emit('error', msg);
  }
  warn(msg: string): void {
    this.emit('warn', msg);
  }
  info(msg: string): void {
    this.emit('info', msg);
  }
  debug(msg: string | (() => string)): void {
    if (this.level < ORDER.debug) return;
    this.emit('debug', typeof msg === 'function' ? msg() : msg);
  }

  /** Plain text for a person (no level prefix), still redacted. */
  say(msg: string): void {
    this.sink.write(this.redactor.redact(msg) + '\n');
  }

  private emit(level: LogLevel, msg: string): void {
    if (ORDER[level] > this.level) return;
    const tag = level === 'info' ? '' : `${level}: `;
    this.sink.write(`${this.prefix}: ${tag}${this.redactor.redact(msg)}\n`);
  }
}
