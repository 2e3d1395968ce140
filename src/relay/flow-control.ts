/**
 * Back-pressure: counts events (and their bytes) read from the WAL and not yet acknowledged by
 * Kafka. At either bound reading pauses; it resumes once both fell to half, so the stream is not
 * toggled for every acknowledgement.
 */
export class FlowControl {
  private events = 0;
  private bytes = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes: number,
  ) {}

  get inFlight(): { events: number; bytes: number } {
    return { events: this.events, bytes: this.bytes };
  }

  /** One more event in flight; true when reading must pause now. */
  add(bytes: number): boolean {
    this.events++;
    this.bytes += bytes;
    return this.full;
  }

  /** An event was acknowledged. */
  release(bytes: number): void {
    this.events--;
    this.bytes -= bytes;
  }

  /** At a bound: reading waits. */
  get full(): boolean {
    return this.events >= this.maxEvents || this.bytes >= this.maxBytes;
  }

  /** Paused reading may resume: both counts at or below half their bound. */
  get drained(): boolean {
    return this.events <= this.maxEvents / 2 && this.bytes <= this.maxBytes / 2;
  }
}
