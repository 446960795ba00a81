import type { Logger } from '../../log/logger.js';
import type { Envelope } from '../../relay/envelopeScanner.js';
import { envelopeOf, type PreparedMessage } from '../../relay/jsonEnvelope.js';
import type { JsonRpcMessage } from '../../relay/jsonRpc.js';
import type { MessageLease } from '../../relay/stdoutWriter.js';
import { StreamedMessage } from '../../relay/streamedMessage.js';
import type { MessageStream } from '../jsonBodyReader.js';
import { InputRequiredWatch } from './inputRequiredWatch.js';

/** How a large 2026-07-28 answer goes to the IDE. */
export interface AnswerToIdeOptions {
  /** Exclusive use of stdout (the IDE side) for one message written in pieces. */
  open: () => Promise<MessageLease>;
  log: Logger;
  /**
   * The answer may be an InputRequiredResult the bridge must act on (a 2025 IDE, tools/call,
   * prompts/get, resources/read): it is held, under the lease, until its end shows it is not.
   */
  mayAskForInput: boolean;
  /** Past this many bytes held, the rest is not held (MessageLimits.maxWholeMessageBytes). */
  holdLimitBytes: number;
  /** Whether a parsed message is the awaited answer, asking for input. */
  asksForInput: (msg: JsonRpcMessage) => boolean;
}

const LINE_BREAK = null;

/**
 * One large answer from a 2026-07-28 gateway on its way to the IDE, as its pieces arrive: the
 * bridge's counterpart of the 2025 path's streamed messages, so a burst of large answers costs
 * about one socket read each instead of every answer held whole at once.
 *
 * An answer that may ask for input is held until its end, under the stdout lease (so one answer
 * at a time is held, the others wait at their sockets), because where resultType sits is up to
 * the gateway (the SDK writes it after the content). At its end the InputRequiredWatch tells,
 * without a parse, that it is an ordinary result (the common case): the held pieces are written.
 * Otherwise it is parsed; an InputRequiredResult is given back (`inputRequired`) and nothing is
 * written. Past holdLimitBytes the answer is written on as it comes (a larger one asking for
 * input is not acted on: it reaches the IDE as it is, with a warning).
 */
export class AnswerToIde implements MessageStream {
  private readonly watch = new InputRequiredWatch();
  private held: (Buffer | typeof LINE_BREAK)[] = [];
  private heldBytes = 0;
  private out?: StreamedMessage;
  /** The answer asked for input: it was not written, here it is parsed. */
  inputRequired?: PreparedMessage;

  private constructor(
    private readonly lease: MessageLease,
    private readonly o: AnswerToIdeOptions,
  ) {
    if (!o.mayAskForInput) this.out = new StreamedMessage(lease, o.log);
  }

  /** Wait for stdout, then take the answer's pieces. */
  static async open(o: AnswerToIdeOptions): Promise<AnswerToIde> {
    return new AnswerToIde(await o.open(), o);
  }

  write(piece: Buffer): void | Promise<void> {
    if (this.o.mayAskForInput) this.watch.push(piece);
    if (this.out) return this.out.write(piece);
    this.held.push(piece);
    this.heldBytes += piece.length;
    if (this.heldBytes > this.o.holdLimitBytes) return this.spill();
  }

  lineBreak(): void | Promise<void> {
    if (this.o.mayAskForInput) this.watch.lineBreak();
    if (this.out) return this.out.lineBreak();
    this.held.push(LINE_BREAK);
    this.heldBytes++;
  }

  /** Its envelope once written (undefined: not one well-formed object, or given back as inputRequired). */
  async end(): Promise<Envelope | undefined> {
    if (!this.out) {
      const asked = this.watch.maybe ? this.parseHeld() : undefined;
      if (asked) {
        this.inputRequired = asked;
        this.held = [];
        await this.lease.end(); // nothing was written: stdout goes to the next writer
        return undefined;
      }
      await this.spill();
    } else if (this.o.mayAskForInput && this.watch.maybe) {
      this.o.log.warn('a 2026-07-28 answer too large to hold may have asked for input (input_required); it went to the IDE as it came');
    }
    return this.out!.end();
  }

  async abort(): Promise<void> {
    if (this.out) return this.out.abort();
    this.held = [];
    await this.lease.end();
  }

  /** Write what is held and everything after it as it comes. */
  private async spill(): Promise<void> {
    const out = (this.out = new StreamedMessage(this.lease, this.o.log));
    const held = this.held;
    this.held = [];
    for (const piece of held) await (piece === LINE_BREAK ? out.lineBreak() : out.write(piece));
  }

  /** The held answer parsed, when it is the awaited one asking for input. */
  private parseHeld(): PreparedMessage | undefined {
    const text = Buffer.concat(this.held.map((p) => p ?? NEWLINE), this.heldBytes).toString('utf8');
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return undefined; // written as it came: the IDE's parser rejects it, as on the 2025 path
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || !this.o.asksForInput(msg as JsonRpcMessage)) return undefined;
    const m = msg as JsonRpcMessage;
    return { bytes: Buffer.from(JSON.stringify(m)), env: envelopeOf(m), msg: m };
  }
}

const NEWLINE = Buffer.from('\n');
