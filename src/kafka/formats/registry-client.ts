import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { redactUrl } from '../../redact';

/**
 * A client for the Confluent Schema Registry REST API (also served by Apicurio Registry's
 * `ccompat` API, Karapace, Redpanda), only the calls a producer needs: register a schema under a
 * subject, look one up, list subjects, read a subject's compatibility level. It never changes a
 * subject's configuration.
 */
export interface RegistryClientOptions {
  /** Base URL, e.g. `https://registry:8081` or `http://apicurio:8080/apis/ccompat/v7`. */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** PEM CA certificate(s) that signed the registry's certificate (https). */
  ca?: string | undefined;
  timeoutMs: number;
}

/** A failed registry call: `status` (HTTP) and `errorCode` (the registry's) when it answered. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly status?: number,
    readonly errorCode?: number,
  ) {
    super(message);
  }
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export class RegistryClient {
  private readonly base: URL;
  private readonly authorization: string | undefined;

  constructor(private readonly options: RegistryClientOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    const username = options.username ?? decodeURIComponent(this.base.username);
    const password = options.password ?? decodeURIComponent(this.base.password);
    this.base.username = '';
    this.base.password = '';
    this.authorization =
      username === ''
        ? undefined
        : `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  /** The URL, safe to log. */
  get describe(): string {
    return redactUrl(this.options.url);
  }

  async subjects(): Promise<string[]> {
    return (await this.call<string[]>('GET', 'subjects')).body;
  }

  /** Registers `schema` under `subject` (or finds it there already); returns its id. */
  async register(subject: string, schema: string): Promise<number> {
    const { body } = await this.call<{ id: number }>(
      'POST',
      `subjects/${encode(subject)}/versions`,
      {
        schema,
      },
    );
    return body.id;
  }

  /** The id of exactly `schema` under `subject`; undefined when the subject or schema is absent. */
  async lookup(subject: string, schema: string): Promise<number | undefined> {
    try {
      return (await this.call<{ id: number }>('POST', `subjects/${encode(subject)}`, { schema }))
        .body.id;
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The subject's compatibility level, else the registry's default; undefined if unknown. */
  async compatibility(subject: string): Promise<string | undefined> {
    for (const path of [`config/${encode(subject)}`, 'config']) {
      try {
        const { body } = await this.call<{ compatibilityLevel?: string; compatibility?: string }>(
          'GET',
          path,
        );
        const level = body.compatibilityLevel ?? body.compatibility;
        if (level !== undefined) return level;
      } catch (err) {
        if (!(err instanceof RegistryError && err.status === 404)) return undefined;
      }
    }
    return undefined;
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<{ body: T }> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const where = `${method} ${redactUrl(url.toString())}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          ca: this.options.ca,
          timeout: this.options.timeoutMs,
          headers: {
            accept: CONTENT_TYPE,
            ...(payload === undefined
              ? {}
              : { 'content-type': CONTENT_TYPE, 'content-length': payload.length }),
            ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
          },
        },
        (res) => {
          readBody(res).then((text) => {
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            if (status >= 200 && status < 300 && parsed !== undefined) {
              resolve({ body: parsed as T });
              return;
            }
            const answer = parsed as { error_code?: number; message?: string } | undefined;
            const message = answer?.message ?? (text.trim().slice(0, 200) || '(no message)');
            reject(
              new RegistryError(
                `${where} answered ${status}: ${message}`,
                status >= 500 || status === 408 || status === 429,
                status,
                answer?.error_code,
              ),
            );
          }, reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)),
      );
      req.on('error', (err) =>
        reject(new RegistryError(`${where} failed: ${err.message}`, !isTlsProblem(err))),
      );
      req.end(payload);
    });
  }
}

const encode = (subject: string) => encodeURIComponent(subject);

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** A certificate the client does not trust will not become trusted by retrying. */
function isTlsProblem(err: Error & { code?: string }): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(err.code ?? '');
}
