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

/**
 * One large answer from a 2026-07-28 gateway on its way to the IDE, as its pieces arrive: the
 * bridge's counterpart of the 2025 path's streamed messages, so a burst of large answers costs
 * about one socket read each instead of every answer held whole at once.
 *
 * An answer that may ask for input is held until its end, under the stdout lease (so one answer
 * at a time is held, the others wait at their sockets), because where resultType sits is up to
 * the gateway (the SDK writes it after the content). Its pieces are framed and scanned for the
 * envelope as they arrive (StreamedMessage), only the writes wait. At its end the
 * InputRequiredWatch tells, without a parse, that it is an ordinary result (the common case): the
 * held pieces go out at once. Otherwise it is parsed; an InputRequiredResult is given back
 * (`inputRequired`) and nothing is written. Past holdLimitBytes the answer is written on as it
 * comes (a larger one asking for input is not acted on: it reaches the IDE as it is, with a warning).
 */
export class AnswerToIde implements MessageStream {
  private readonly watch = new InputRequiredWatch();
  private readonly out: StreamedMessage;
  /** Pieces framed for stdout, not written yet (while holding). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private holding: boolean;
  /** The answer asked for input: it was not written, here it is parsed. */
  inputRequired?: PreparedMessage;

  private constructor(
    private readonly lease: MessageLease,
    private readonly o: AnswerToIdeOptions,
  ) {
    this.holding = o.mayAskForInput;
    const held: MessageLease = {
      write: (piece) => {
        if (!this.holding) return lease.write(piece);
        this.held.push(piece);
        this.heldBytes += piece.length;
        if (this.heldBytes > o.holdLimitBytes) return this.release();
      },
      end: async () => {
        await this.release();
        await lease.end();
      },
      settled: lease.settled && ((env) => lease.settled!(env)),
    };
    this.out = new StreamedMessage(held, o.log);
  }

  /** Wait for stdout, then take the answer's pieces. */
  static async open(o: AnswerToIdeOptions): Promise<AnswerToIde> {
    return new AnswerToIde(await o.open(), o);
  }

  write(piece: Buffer): void | Promise<void> {
    if (this.o.mayAskForInput) this.watch.push(piece);
    return this.out.write(piece);
  }

  lineBreak(): void | Promise<void> {
    if (this.o.mayAskForInput) this.watch.lineBreak();
    return this.out.lineBreak();
  }

  /** Its envelope once written (undefined: not one well-formed object, or given back as inputRequired). */
  async end(): Promise<Envelope | undefined> {
    if (this.holding && this.watch.maybe) {
      const asked = this.parseHeld();
      if (asked) {
        this.inputRequired = asked;
        this.drop();
        await this.lease.end(); // nothing was written: stdout goes to the next writer
        return undefined;
      }
    } else if (this.o.mayAskForInput && this.watch.maybe) {
      this.o.log.warn('a 2026-07-28 answer too large to hold may have asked for input (input_required); it went to the IDE as it came');
    }
    return this.out.end();
  }

  async abort(): Promise<void> {
    if (!this.holding) return this.out.abort();
    this.drop();
    await this.lease.end();
  }

  /** Stop holding: what is held goes out at once (it is in memory already: no wait between pieces). */
  private release(): void | Promise<void> {
    if (!this.holding) return;
    this.holding = false;
    const held = this.held;
    this.drop();
    let last: void | Promise<void> = undefined;
    for (const piece of held) last = this.lease.write(piece) ?? last;
    return last;
  }

  private drop(): void {
    this.holding = false;
    this.held = [];
    this.heldBytes = 0;
  }

  /** The held answer parsed, when it is the awaited one asking for input (framing made line breaks spaces: the same JSON). */
  private parseHeld(): PreparedMessage | undefined {
    let msg: unknown;
    try {
      msg = JSON.parse(Buffer.concat(this.held, this.heldBytes).toString('utf8'));
    } catch {
      return undefined; // written as it came: the IDE's parser rejects it, as on the 2025 path
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || !this.o.asksForInput(msg as JsonRpcMessage)) return undefined;
    const m = msg as JsonRpcMessage;
    return { bytes: Buffer.from(JSON.stringify(m)), env: envelopeOf(m), msg: m };
  }
}
