/** Builds pgoutput v1 messages byte by byte, as the server sends them, for decoder tests. */
export class PgoutputBuilder {
  private parts: Buffer[] = [];

  static begin(finalLsn: bigint, commitTime: bigint, xid: number): Buffer {
    return new PgoutputBuilder().byte('B').u64(finalLsn).i64(commitTime).u32(xid).build();
  }

  static commit(commitLsn: bigint, endLsn: bigint, commitTime: bigint): Buffer {
    return new PgoutputBuilder().byte('C').u8(0).u64(commitLsn).u64(endLsn).i64(commitTime).build();
  }

  static relation(
    id: number,
    schema: string,
    name: string,
    columns: Array<[string, number]>,
  ): Buffer {
    const b = new PgoutputBuilder()
      .byte('R')
      .u32(id)
      .cstring(schema)
      .cstring(name)
      .byte('d')
      .i16(columns.length);
    columns.forEach(([column, oid], i) =>
      b
        .u8(i === 0 ? 1 : 0)
        .cstring(column)
        .u32(oid)
        .i32(-1),
    );
    return b.build();
  }

  static insert(relationId: number, values: Array<string | null>): Buffer {
    const b = new PgoutputBuilder().byte('I').u32(relationId).byte('N');
    return b.tuple(values).build();
  }

  static message(transactional: boolean, lsn: bigint, prefix: string, content: string): Buffer {
    const body = Buffer.from(content);
    return new PgoutputBuilder()
      .byte('M')
      .u8(transactional ? 1 : 0)
      .u64(lsn)
      .cstring(prefix)
      .u32(body.length)
      .raw(body)
      .build();
  }

  tuple(values: Array<string | null>): this {
    this.i16(values.length);
    for (const value of values) {
      if (value === null) this.byte('n');
      else {
        const bytes = Buffer.from(value);
        this.byte('t').i32(bytes.length).raw(bytes);
      }
    }
    return this;
  }

  byte(char: string): this {
    return this.raw(Buffer.from(char, 'latin1'));
  }

  u8(v: number): this {
    return this.raw(Buffer.from([v]));
  }

  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.raw(b);
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return this.raw(b);
  }

  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.raw(b);
  }

  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return this.raw(b);
  }

  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    return this.raw(b);
  }

  cstring(s: string): this {
    return this.raw(Buffer.concat([Buffer.from(s), Buffer.from([0])]));
  }

  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}
