/** Runs the garbage collector: a minor (young generation) or a major (full) collection. */
export type CollectGarbage = (kind: 'minor' | 'major') => void;

export interface GcPacerOptions {
  collect: CollectGarbage;
  /** A minor collection after this many bytes relayed. */
  minorEveryBytes: number;
  /** A major collection after this many bytes relayed. */
  majorEveryBytes: number;
}

/**
 * Keeps the bridge's peak memory near its live set while large answers stream through. Every
 * socket read is a fresh 64 KiB buffer that is garbage as soon as it is on stdout; V8 collects
 * such buffers only after ~32 MiB of them (young generation) or much later once they were promoted
 * while waiting for stdout, so a burst of large answers would otherwise peak tens of MiB above
 * what is live. Pacing by bytes relayed costs a collection of a small heap (~1 ms) per few MiB.
 */
export class GcPacer {
  private sinceMinor = 0;
  private sinceMajor = 0;

  constructor(private readonly o: GcPacerOptions) {}

  /** Count bytes that went out; collects when a threshold is passed. */
  note(bytes: number): void {
    this.sinceMinor += bytes;
    this.sinceMajor += bytes;
    if (this.sinceMajor >= this.o.majorEveryBytes) {
      this.sinceMajor = 0;
      this.sinceMinor = 0;
      this.o.collect('major');
    } else if (this.sinceMinor >= this.o.minorEveryBytes) {
      this.sinceMinor = 0;
      this.o.collect('minor');
    }
  }
}
