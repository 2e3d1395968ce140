/** Quotes a PostgreSQL identifier for SQL text. */
export const quoteIdentifier = (identifier: string): string =>
  `"${identifier.replace(/"/g, '""')}"`;

/** A schema-qualified table name: the outbox table as configured. Imports nothing. */
export class TableName {
  constructor(
    readonly schema: string,
    readonly name: string,
  ) {}

  /** `schema.name`, as logs, errors and dead letters show it. */
  qualified(): string {
    return `${this.schema}.${this.name}`;
  }

  /** `"schema"."name"`, for SQL text. */
  quoted(): string {
    return `${quoteIdentifier(this.schema)}.${quoteIdentifier(this.name)}`;
  }

  toString(): string {
    return this.qualified();
  }
}
