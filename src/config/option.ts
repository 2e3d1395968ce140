/**
 * One configuration option: the environment variable users set, its default, what it means, and
 * how to turn the text into a value (or say why it cannot). The table of all options drives
 * validation, defaults and the README's option table, so the three never disagree.
 */
export interface Option<T> {
  env: string;
  group:
    | 'PostgreSQL'
    | 'Kafka'
    | 'Kafka security'
    | 'Schema registry'
    | 'Delivery'
    | 'Recovery'
    | 'Outbox'
    | 'Flow control'
    | 'Operations'
    | 'Process';
  description: string;
  /** Shown in the README; undefined means required. */
  defaultText: string | undefined;
  /** Parses the raw text; throws an Error whose message says what is expected. */
  parse: (raw: string) => T;
  /** The value when the variable is unset (absent for required options). */
  fallback?: () => T;
  /** Never print the value (it may carry a password). */
  secret?: boolean;
}

type Spec<T> = Omit<Option<T>, 'parse' | 'defaultText' | 'fallback'>;

function withDefault<T>(
  spec: Spec<T>,
  parse: (raw: string) => T,
  value: T | undefined,
  text: string,
) {
  const option: Option<T> = { ...spec, parse, defaultText: value === undefined ? undefined : text };
  if (value !== undefined) option.fallback = () => value;
  return option;
}

/** An option that may stay unset (its value is then undefined), shown with `text` as default. */
function optional<T>(
  spec: Spec<T | undefined>,
  parse: (raw: string) => T,
  text: string,
): Option<T | undefined> {
  return { ...spec, parse, defaultText: text, fallback: () => undefined };
}

export function stringOption(
  spec: Spec<string> & { default?: string; pattern?: RegExp; expected?: string },
): Option<string> {
  const parse = (raw: string) => {
    const value = raw.trim();
    if (value === '') throw new Error('must not be empty');
    if (spec.pattern !== undefined && !spec.pattern.test(value)) {
      throw new Error(`must be ${spec.expected ?? `of the form ${String(spec.pattern)}`}`);
    }
    return value;
  };
  return withDefault(spec, parse, spec.default, `\`${spec.default ?? ''}\``);
}

export function intOption(spec: Spec<number> & { default?: number; min: number; max: number }) {
  const parse = (raw: string) => {
    const text = raw.trim().replace(/_/g, '');
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
      throw new Error(`must be a whole number, got "${raw}"`);
    }
    if (value < spec.min || value > spec.max) {
      throw new Error(`must be between ${spec.min} and ${spec.max}, got ${value}`);
    }
    return value;
  };
  return withDefault(spec, parse, spec.default, `\`${spec.default}\``);
}

export function enumOption<T extends string>(
  spec: Spec<T> & { default: T; values: readonly T[] },
): Option<T> {
  const parse = (raw: string) => {
    const value = raw.trim().toLowerCase() as T;
    if (!spec.values.includes(value))
      throw new Error(`must be one of ${spec.values.join(', ')}, got "${raw}"`);
    return value;
  };
  return withDefault(spec, parse, spec.default, `\`${spec.default}\``);
}

export function customOption<T>(
  spec: Spec<T> & { parse: (raw: string) => T; default?: T; defaultText?: string },
): Option<T> {
  if ('default' in spec && spec.default === undefined) {
    return optional(spec, spec.parse, spec.defaultText ?? '(unset)') as Option<T>;
  }
  return withDefault(
    spec,
    spec.parse,
    spec.default,
    spec.defaultText ?? `\`${String(spec.default)}\``,
  );
}

/** `true`/`false` (also 1/0, yes/no, on/off). */
export function parseBoolean(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off'].includes(value)) return false;
  throw new Error(`must be true or false, got "${raw}"`);
}

/** An optional file name (unset: none). */
export function optionalFile(env: string, group: Option<unknown>['group'], description: string) {
  return customOption<string | undefined>({
    env,
    group,
    description,
    parse: (raw) => {
      const value = raw.trim();
      if (value === '') throw new Error('must name a file');
      return value;
    },
    default: undefined,
    defaultText: '(none)',
  });
}

/** An optional secret (a password): never echoed in errors, never logged. */
export function optionalSecret(env: string, group: Option<unknown>['group'], description: string) {
  return customOption<string | undefined>({
    env,
    group,
    description,
    parse: (raw) => raw,
    default: undefined,
    defaultText: '(none)',
    secret: true,
  });
}
