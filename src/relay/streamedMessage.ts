import type { Logger } from '../log/logger.js';
import { EnvelopeScanner, type Envelope } from './envelopeScanner.js';
import type { MessageLease } from './stdoutWriter.js';

const SPACE = Buffer.from(' ');
const CR = 0x0d;

/**
 * One large JSON-RPC message from the gateway written to stdout as its pieces arrive (held stdout
 * lease), its routing envelope read on the way. Nothing is joined or copied: memory stays at one
 * socket read whatever the message's size.
 *
 * Framing: stdio allows no line break inside a message. Between two SSE data lines (and at a CR)
 * the message has a line break; outside a JSON string that is whitespace and is written as a
 * space (what the joined-and-re-serialized path produced, up to whitespace). Inside a string it
 * makes the message invalid JSON: the line is cut there, so the IDE sees an unparseable line —
 * never a different message. Bytes that are not a well-formed object pass through as they are
 * (line breaks as spaces) and the IDE's parser judges them; they are not routed as an answer.
 */
export class StreamedMessage {
  private readonly scanner = new EnvelopeScanner();
  /** The structure broke: pass the rest through unscanned. */
  private passthrough = false;
  /** A line break inside a string: nothing more is written. */
  private cut = false;

  constructor(
    private readonly lease: MessageLease,
    private readonly log: Logger,
  ) {}

  /** The next piece of the message. */
  write(piece: Buffer): void | Promise<void> {
    if (this.cut) return;
    if (this.passthrough) return this.writeRaw(piece);
    if (piece.indexOf(CR) === -1) return this.scanAndWrite(piece);
    return this.writeWithCr(piece);
  }

  /** A line break between two data lines of the event. */
  lineBreak(): void | Promise<void> {
    return this.breakLine();
  }

  /** The message is complete: end its line; its envelope, or undefined when it is not one well-formed object. */
  async end(): Promise<Envelope | undefined> {
    await this.lease.end();
    const env = this.cut || this.passthrough ? undefined : this.scanner.finish();
    if (!env && !this.cut && !this.passthrough) this.warn('ended inside its JSON');
    this.lease.settled?.(env);
    return env;
  }

  /** The stream broke before the message was complete: end the line so stdout framing holds. */
  async abort(): Promise<void> {
    this.log.warn('the gateway stream broke in the middle of a large message; the IDE got its beginning as one unparseable line');
    await this.lease.end();
  }

  private scanAndWrite(piece: Buffer): void | Promise<void> {
    this.scanner.push(piece);
    if (this.scanner.invalid) {
      this.passthrough = true;
      this.warn('is not a well-formed JSON object');
    }
    return this.lease.write(piece);
  }

  private writeRaw(piece: Buffer): void | Promise<void> {
    if (piece.indexOf(CR) === -1) return this.lease.write(piece);
    const copy = Buffer.from(piece);
    for (let i = copy.indexOf(CR); i !== -1; i = copy.indexOf(CR, i + 1)) copy[i] = SPACE[0]!;
    return this.lease.write(copy);
  }

  /** A piece with CRs (rare): the segments between them are written, each CR as a line break. */
  private async writeWithCr(piece: Buffer): Promise<void> {
    let from = 0;
    for (let cr = piece.indexOf(CR); cr !== -1 && !this.cut; cr = piece.indexOf(CR, from)) {
      if (cr > from) await this.write(piece.subarray(from, cr));
      await this.breakLine();
      from = cr + 1;
    }
    if (from < piece.length && !this.cut) await this.write(piece.subarray(from));
  }

  private breakLine(): void | Promise<void> {
    if (this.cut) return;
    if (!this.passthrough && this.scanner.inString) {
      this.cut = true;
      this.log.warn('a large message from the gateway has a line break inside a JSON string (invalid JSON); the IDE got it cut there, as one unparseable line');
      return;
    }
    return this.lease.write(SPACE);
  }

  private warn(what: string): void {
    this.log.warn(`a large message from the gateway ${what}; relayed as it came (the IDE will reject it)`);
  }
}
