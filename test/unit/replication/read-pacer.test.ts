import {
  READ_INTERVAL_MS,
  REST_BELOW_BYTES_PER_MS,
  ReadPacer,
} from '../../../src/replication/read-pacer';

/** A socket that records whether it is reading, as net.Socket's pause/resume set it. */
class FakeSocket {
  reading = true;
  readableLength = 0;
  pause(): void {
    this.reading = false;
  }
  resume(): void {
    this.reading = true;
  }
}

describe('ReadPacer', () => {
  let clock = 0;
  let socket: FakeSocket;
  let pacer: ReadPacer;

  beforeEach(() => {
    jest.useFakeTimers();
    clock = 1_000;
    socket = new FakeSocket();
    pacer = new ReadPacer(socket, READ_INTERVAL_MS, () => clock);
  });

  afterEach(() => {
    pacer.stop();
    jest.useRealTimers();
  });

  /** Time passes for the clock and the timers alike. */
  const advance = (ms: number) => {
    clock += ms;
    jest.advanceTimersByTime(ms);
  };

  it('rests for the interval after a read at a low rate, then reads again by itself', () => {
    pacer.afterRead(300); // one single-row transaction
    expect(socket.reading).toBe(false);
    advance(READ_INTERVAL_MS - 0.5);
    expect(socket.reading).toBe(false);
    advance(0.5);
    expect(socket.reading).toBe(true);
  });

  it('keeps reading while data comes in faster than the threshold', () => {
    pacer.afterRead(300); // first read: rests
    advance(READ_INTERVAL_MS);
    expect(socket.reading).toBe(true);
    // Catching up at twice the threshold: the read after the rest brings what came in during it,
    // then each read every 0.2 ms brings 0.2 ms' worth.
    pacer.afterRead(REST_BELOW_BYTES_PER_MS * 2 * READ_INTERVAL_MS);
    expect(socket.reading).toBe(true);
    for (let i = 0; i < 20; i++) {
      pacer.afterRead(REST_BELOW_BYTES_PER_MS * 0.4);
      expect(socket.reading).toBe(true);
      advance(0.2);
    }
  });

  it('hands out every chunk that came in while resting before it rests again', () => {
    pacer.afterRead(300);
    advance(READ_INTERVAL_MS);
    socket.readableLength = 600; // two more chunks buffered behind this one
    pacer.afterRead(300);
    expect(socket.reading).toBe(true);
    socket.readableLength = 300;
    pacer.afterRead(300);
    expect(socket.reading).toBe(true);
    socket.readableLength = 0;
    pacer.afterRead(300);
    expect(socket.reading).toBe(false);
  });

  it('never lets the end of a rest undo a back-pressure pause', () => {
    pacer.afterRead(300);
    pacer.pause(); // flow control: too much in flight
    advance(10 * READ_INTERVAL_MS);
    expect(socket.reading).toBe(false);
    expect(pacer.isPaused).toBe(true);
    pacer.resume();
    expect(socket.reading).toBe(true);
    expect(pacer.isPaused).toBe(false);
  });

  it('lets a resume during a rest wait for the rest to end', () => {
    pacer.pause();
    pacer.resume();
    expect(socket.reading).toBe(true);
    pacer.afterRead(300);
    pacer.pause();
    pacer.resume();
    expect(socket.reading).toBe(false);
    advance(READ_INTERVAL_MS);
    expect(socket.reading).toBe(true);
  });

  it('does not rest while paused, and not at all with an interval of 0', () => {
    pacer.pause();
    pacer.afterRead(300);
    pacer.resume();
    expect(socket.reading).toBe(true);
    expect(jest.getTimerCount()).toBe(0);

    const continuous = new ReadPacer(socket, 0, () => clock);
    continuous.afterRead(300);
    advance(READ_INTERVAL_MS);
    continuous.afterRead(300);
    expect(socket.reading).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('stop ends a rest without resuming and leaves no timer behind', () => {
    pacer.afterRead(300);
    pacer.stop();
    expect(jest.getTimerCount()).toBe(0);
    expect(socket.reading).toBe(false);
  });
});
