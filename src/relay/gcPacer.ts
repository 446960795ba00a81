/** Runs the garbage collector: a minor (young generation) or a major (full) collection. */
export type CollectGarbage = (kind: 'minor' | 'major') => void;

/** The runtime's collector and what it reports, as the pacer needs them. */
export interface GarbageControl {
  collect: CollectGarbage;
  /** V8's external memory now, bytes: ArrayBuffer backing stores, socket reads among them. */
  externalBytes(): number;
}

export interface GcPacerOptions {
  gc: GarbageControl;
  /** A collection after this many bytes relayed. */
  everyBytes: number;
  /** That collection is a major one when external memory is above this many bytes, else a minor one. */
  majorAboveExternalBytes: number;
}

/**
 * After a major collection the next three are minor ones: a major at most every 16 MiB relayed.
 * V8 counts the buffers a collection frees only at the next collection, so the reading right
 * after a major still shows them, and at 16 answers in flight external memory stays above the
 * mark for long stretches anyway. Measured (bench --only blob,rss, lab, reps 3): 1 MiB at 16 in
 * flight 0.65-0.70x of direct with a major whenever above the mark, 0.78-0.80x with this; the
 * burst's peak 71-74 -> 74-77 MiB; bridge CPU per 1 MiB call 5.0-5.1 -> 4.3-4.5 ms.
 */
const MINORS_AFTER_MAJOR = 3;

/**
 * Keeps the bridge's peak memory near its live set while large answers stream through. Every
 * socket read is a fresh buffer that is garbage as soon as it is on stdout; V8 collects such
 * buffers only after ~32 MiB of them (young generation), and much later once they were promoted
 * (an answer that waited for stdout while other answers streamed: a burst of them in flight), so
 * a burst would otherwise peak tens of MiB above what is live.
 *
 * Every `everyBytes` relayed: a minor collection (a small young generation, well under 1 ms),
 * or a major one when external memory is still high, which means the garbage holding it was
 * promoted and only a major collection frees it. One answer at a time promotes next to nothing,
 * so it pays for no major collection (each marks the whole heap: several ms).
 *
 * No back-off beyond that for memory that stays above the mark while live: in the burst (16
 * answers of 1 MiB waiting for stdout) external memory stays above it for 30 MiB relayed and
 * more, and the majors are what hold the peak (a back-off that doubled the mark after 4 or 8
 * majors in a row gave ~83 MiB instead of ~75). Live buffers above the mark for long need
 * something held whole (at most the 8 MiB whole-message limit) while other answers stream past
 * it, which ends with that message: a major every 16 MiB relayed meanwhile.
 */
export class GcPacer {
  private since = 0;
  /** Collections still to be minor ones after the last major (see MINORS_AFTER_MAJOR). */
  private minorsOwed = 0;

  constructor(private readonly o: GcPacerOptions) {}

  /** Count bytes that went out; collects when the threshold is passed. */
  note(bytes: number): void {
    this.since += bytes;
    if (this.since < this.o.everyBytes) return;
    this.since = 0;
    if (this.minorsOwed > 0) {
      this.minorsOwed--;
      this.o.gc.collect('minor');
      return;
    }
    if (this.o.gc.externalBytes() > this.o.majorAboveExternalBytes) {
      this.minorsOwed = MINORS_AFTER_MAJOR;
      this.o.gc.collect('major');
    } else {
      this.o.gc.collect('minor');
    }
  }
}
