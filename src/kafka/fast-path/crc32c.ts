/**
 * CRC-32C (Castagnoli; reflected polynomial 0x82F63B78), the checksum of Kafka record batches,
 * computed sixteen bytes at a time ("slicing-by-16"): the bytes read as four 32-bit words and
 * sixteen table lookups per step instead of one lookup, shift and xor per byte. Same results as
 * kafkajs' byte-wise implementation (the unit tests compare them); the checksum was the record
 * batch encoder's largest cost (0.7 GB/s slicing by 8 with byte reads, 1.1 GB/s like this).
 */
const POLYNOMIAL = 0x82f63b78;

/** TABLES[k][b]: the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 16 }, () => new Uint32Array(256));
  const base = tables[0]!;
  for (let b = 0; b < 256; b++) {
    let crc = b;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    base[b] = crc >>> 0;
  }
  for (let k = 1; k < 16; k++) {
    const previous = tables[k - 1]!;
    const table = tables[k]!;
    for (let b = 0; b < 256; b++) table[b] = (previous[b]! >>> 8) ^ base[previous[b]! & 0xff]!;
  }
  return tables;
})();

/** A tuple of `N` values of `T`. */
type Tuple<T, N extends number, R extends T[] = []> = R['length'] extends N
  ? R
  : Tuple<T, N, [...R, T]>;

// One constant per table: V8 keeps them in registers rather than indexing the array each time.
const [T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15] = TABLES as Tuple<
  Uint32Array,
  16
>;

/** Whether a Uint32Array reads bytes b0..b3 as b0 | b1 << 8 | b2 << 16 | b3 << 24 (x86, ARM). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** CRC-32C of `bytes`, as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  let crc = ~0;
  let i = 0;
  const length = bytes.length;
  if (LITTLE_ENDIAN && length >= 32) {
    // Byte by byte up to a 4-byte boundary of the memory (a Uint32Array must be aligned), then
    // four words per step; the rest byte by byte again.
    const lead = -bytes.byteOffset & 3;
    for (; i < lead; i++) crc = T0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
    const words = ((length - i) >>> 4) << 2;
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let w = 0; w < words; w += 4) {
      crc ^= view[w]!;
      const a = view[w + 1]!;
      const b = view[w + 2]!;
      const c = view[w + 3]!;
      crc =
        T15[crc & 0xff]! ^
        T14[(crc >>> 8) & 0xff]! ^
        T13[(crc >>> 16) & 0xff]! ^
        T12[crc >>> 24]! ^
        T11[a & 0xff]! ^
        T10[(a >>> 8) & 0xff]! ^
        T9[(a >>> 16) & 0xff]! ^
        T8[a >>> 24]! ^
        T7[b & 0xff]! ^
        T6[(b >>> 8) & 0xff]! ^
        T5[(b >>> 16) & 0xff]! ^
        T4[b >>> 24]! ^
        T3[c & 0xff]! ^
        T2[(c >>> 8) & 0xff]! ^
        T1[(c >>> 16) & 0xff]! ^
        T0[c >>> 24]!;
    }
    i += words * 4;
  }
  while (i < length) crc = T0[(crc ^ bytes[i++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
