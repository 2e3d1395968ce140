/** Kafka's rules for topic names, and the topic template that routes events by their fields. */

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Why a topic name is not one Kafka accepts, or undefined when it is fine. */
export function topicProblem(topic: string): string | undefined {
  if (topic === '.' || topic === '..') return `"${topic}" is reserved`;
  if (!LEGAL_TOPIC.test(topic)) {
    return `"${topic}" must be 1-249 characters of ASCII letters, digits, '.', '_' or '-'`;
  }
  return undefined;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type RenderedTopic =
  | {
      readonly ok: true;
      readonly topic: string;
      /** Why Kafka would reject the topic (topicProblem), found once per topic, not per event. */
      readonly problem: string | undefined;
    }
  | { readonly ok: false; readonly missing: string };

/**
 * A topic name with `{field}` placeholders, e.g. `{tenant}.outbox.{aggregateType}`. What a field
 * name means (an event attribute, an outbox column) is up to the caller's lookup.
 */
export class TopicTemplate {
  /** Literal text and field names, alternating: literal, field, literal, ..., literal. */
  private readonly parts: readonly string[];
  /** Rendered topics by their field values (joined by NUL), shared: one per topic, not per event. */
  private readonly cache = new Map<string, RenderedTopic>();

  /** The topic of a template without placeholders. */
  private readonly constant: RenderedTopic;

  private constructor(readonly text: string) {
    this.parts = text.split(PLACEHOLDER);
    // Without placeholders the text is the topic, and `parse` has checked it.
    this.constant = { ok: true, topic: text, problem: undefined };
  }

  /** Parses a template; throws an Error saying what is wrong with it. */
  static parse(raw: string): TopicTemplate {
    const text = raw.trim();
    const template = new TopicTemplate(text);
    const bad = template.fields.filter((f) => !FIELD_NAME.test(f));
    if (bad.length > 0)
      throw new Error(
        `has placeholder(s) ${bad.map((f) => `{${f}}`).join(', ')} that name no field (letters, digits and _)`,
      );
    if (/[{}]/.test(template.parts.filter((_, i) => i % 2 === 0).join('')))
      throw new Error(`has an unmatched brace: "${text}"`);
    // The literal text must be legal by itself, so only a field's value can make a topic illegal.
    const literal = template.parts.map((p, i) => (i % 2 === 0 ? p : 'x')).join('');
    const problem = topicProblem(literal);
    if (problem !== undefined) throw new Error(`gives no legal topic name: ${problem}`);
    return template;
  }

  /** The field names, in order of appearance, each once. */
  get fields(): string[] {
    return [...new Set(this.parts.filter((_, i) => i % 2 === 1))];
  }

  /** Whether the template can produce this topic name. */
  matches(topic: string): boolean {
    const pattern = this.parts
      .map((p, i) => (i % 2 === 0 ? p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : '.+'))
      .join('');
    return new RegExp(`^${pattern}$`).test(topic);
  }

  /** The topic for these field values; the first field without a value (null, absent, blank) otherwise. */
  render(value: (field: string) => string | null | undefined): RenderedTopic {
    const parts = this.parts;
    if (parts.length === 1) return this.constant;
    let key = '';
    for (let i = 1; i < parts.length; i += 2) {
      const v = value(parts[i]!);
      if (v === null || v === undefined || v.trim() === '')
        return { ok: false, missing: parts[i]! };
      key = i === 1 ? v : `${key}\u0000${v}`;
    }
    let rendered = this.cache.get(key);
    if (rendered === undefined) {
      // A new combination: look the values up again (rare) rather than keep them per event.
      const topic = parts.map((p, i) => (i % 2 === 0 ? p : value(p)!)).join('');
      rendered = { ok: true, topic, problem: topicProblem(topic) };
      if (this.cache.size < 10_000) this.cache.set(key, rendered);
    }
    return rendered;
  }
}
