/**
 * CRC-32C (Castagnoli; reflected polynomial 0x82F63B78), the checksum of Kafka record batches,
 * computed eight bytes at a time ("slicing-by-8"): eight lookups and one 32-bit read per eight
 * bytes instead of one lookup, shift and xor per byte. Same results as kafkajs' byte-wise
 * implementation (the unit tests compare them); the record batch encoder spent about a third of
 * its time there.
 */
const POLYNOMIAL = 0x82f63b78;

/** TABLES[k][b]: the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const base = tables[0]!;
  for (let b = 0; b < 256; b++) {
    let crc = b;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    base[b] = crc >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    const previous = tables[k - 1]!;
    const table = tables[k]!;
    for (let b = 0; b < 256; b++) table[b] = (previous[b]! >>> 8) ^ base[previous[b]! & 0xff]!;
  }
  return tables;
})();

const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/** CRC-32C of `bytes`, as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  let crc = ~0;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  while (i < end8) {
    crc ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    crc =
      T7[crc & 0xff]! ^
      T6[(crc >>> 8) & 0xff]! ^
      T5[(crc >>> 16) & 0xff]! ^
      T4[crc >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < bytes.length) crc = T0[(crc ^ bytes[i++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
