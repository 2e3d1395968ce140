import { CopyFramer } from '../../../src/replication/copy-framer';

/** A protocol message: type byte, 32-bit length counting itself, contents. */
function frame(type: string, contents: string | Buffer): Buffer {
  const body = typeof contents === 'string' ? Buffer.from(contents) : contents;
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

/** A framer that logs what it hands out, in order: "d:<contents>" or "pg:<type>:<contents>". */
function logged(): { framer: CopyFramer; log: string[] } {
  const log: string[] = [];
  const framer = new CopyFramer();
  framer.forward = (message) =>
    log.push(`pg:${String.fromCharCode(message[0]!)}:${message.subarray(5).toString()}`);
  framer.onCopyData = (bytes, start, end) => log.push(`d:${bytes.toString('utf8', start, end)}`);
  return { framer, log };
}

const big = 'x'.repeat(70_000);
const stream = Buffer.concat([
  frame('W', '\0\0\0'), // CopyBothResponse
  frame('d', 'w-first'),
  frame('d', ''),
  frame('N', 'a notice'),
  frame('d', big),
  frame('d', 'k-keepalive'),
  frame('c', ''), // CopyDone
  frame('C', 'COPY 0'),
  frame('Z', 'I'),
]);
const expected = [
  'pg:W:\0\0\0',
  'd:w-first',
  'd:',
  'pg:N:a notice',
  `d:${big}`,
  'd:k-keepalive',
  'pg:c:',
  'pg:C:COPY 0',
  'pg:Z:I',
];

describe('CopyFramer', () => {
  it('hands out CopyData and forwards the rest, whole and in order, however the bytes are cut', () => {
    const cuts = [
      ...Array.from({ length: 40 }, (_, i) => i + 1),
      stream.length - 60,
      stream.length - 1,
      40_000,
    ];
    for (const cut of cuts) {
      const { framer, log } = logged();
      framer.push(stream.subarray(0, cut));
      framer.push(stream.subarray(cut));
      expect(log).toEqual(expected);
    }
  });

  it('puts a message back together from many small reads', () => {
    const { framer, log } = logged();
    for (let at = 0; at < stream.length; at += 7) framer.push(stream.subarray(at, at + 7));
    expect(log).toEqual(expected);
    // One byte at a time too, across the header of each message.
    const small = Buffer.concat([frame('d', 'ab'), frame('Z', 'I')]);
    const bytewise = logged();
    for (const byte of small) bytewise.framer.push(Buffer.from([byte]));
    expect(bytewise.log).toEqual(['d:ab', 'pg:Z:I']);
  });

  it('hands CopyData where it arrived: a range of the chunk, not a copy', () => {
    const framer = new CopyFramer();
    const chunk = Buffer.concat([frame('d', 'one'), frame('d', 'two')]);
    const seen: Array<[Buffer, number, number]> = [];
    framer.onCopyData = (bytes, start, end) => seen.push([bytes, start, end]);
    framer.push(chunk);
    expect(seen).toEqual([
      [chunk, 5, 8],
      [chunk, 13, 16],
    ]);
  });

  it('forwards CopyData to pg until a handler takes it', () => {
    const forwarded: string[] = [];
    const framer = new CopyFramer();
    framer.forward = (message) => forwarded.push(message.toString('latin1'));
    framer.push(frame('d', 'early'));
    expect(forwarded).toEqual([frame('d', 'early').toString('latin1')]);
  });

  it('refuses a length that cannot be right rather than loop or skip', () => {
    const { framer } = logged();
    const bad = Buffer.from([0x64, 0, 0, 0, 3, 0x41]);
    expect(() => framer.push(bad)).toThrow('protocol message of length 3 (at least 4)');
    const split = logged();
    split.framer.push(Buffer.from([0x64, 0, 0]));
    expect(() => split.framer.push(Buffer.from([0, 1]))).toThrow('length 1');
  });
});
