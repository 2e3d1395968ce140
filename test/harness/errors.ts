/**
 * A harness failure that a person can act on: what is missing or broken, and how to fix it.
 * Thrown instead of a stack trace from deep inside a child process, and instead of a long timeout.
 */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';

  constructor(
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(hint === undefined ? message : `${message}\n  -> ${hint}`, options);
    // The message is the whole story; a stack into the harness would only hide it.
    this.stack = `${this.name}: ${this.message}`;
  }
}
