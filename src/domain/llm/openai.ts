/**
 * An LlmClient for any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, LM Studio,
 * llama.cpp server …). One `complete` = up to `outputAttempts` HTTP calls: an answer that is not
 * JSON or does not fit the request's schema is asked for again, with what was wrong added to the
 * conversation. Given a budget (the shared `llm` limit), each HTTP call first takes from it, and a
 * 429/503 with Retry-After pauses it for everyone and the call waits and goes again, without
 * failing (so the job spends no attempt), up to `rateLimitWaits` times. Other HTTP-level failures
 * are not retried here: they become LlmUnavailableError (or LlmRateLimitedError past the waits) and
 * the job's retry policy decides.
 */
import type { z } from 'zod';
import { errorText } from '../../lib/errors.ts';
import { fieldIssues, describeIssues, type FieldIssue } from '../../lib/issues.ts';
import { withTimeout } from '../../lib/timeouts.ts';
import type { LlmAnswer, LlmClient, LlmUsage } from './client.ts';
import { LlmOutputError, LlmRateLimitedError, LlmUnavailableError } from './errors.ts';
import type { AnswerOf, LlmRequest } from './requests.ts';
import { estimateTokens, type CallBudget } from './budget.ts';
import { inChatSpan } from './tracing.ts';

export interface OpenAiClientOptions {
  /** The API root, e.g. `http://localhost:11434/v1` or `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey?: string;
  model: string;
  /** Per HTTP call, body included. */
  timeoutMs?: number;
  /** Answers asked for, in all, before LlmOutputError. */
  outputAttempts?: number;
  fetch?: typeof globalThis.fetch;
  /** Taken from before each HTTP call, paused by a Retry-After (the shared `llm` limit). */
  budget?: CallBudget;
  /** Rate-limited answers a call waits out (with a budget) before it fails with LlmRateLimitedError; default 10. */
  rateLimitWaits?: number;
}

interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

interface Completion {
  content: string | null;
  model: string | undefined;
  usage: LlmUsage;
}

/** A 429 without Retry-After: long enough not to hammer the provider, short enough to be useful. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;
const EXCERPT_CHARS = 200;

export function createOpenAiClient(options: OpenAiClientOptions): LlmClient {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const outputAttempts = options.outputAttempts ?? 3;
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (!(outputAttempts >= 1)) throw new RangeError(`outputAttempts must be at least 1, not ${outputAttempts}`);

  /** Error text from the endpoint, shortened, and never with our key in it (some proxies echo headers). */
  const excerpt = (text: string): string => {
    let message = text;
    try {
      const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
      const found = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.message);
      if (typeof found === 'string') message = found;
    } catch {
      // not JSON: the raw text it is
    }
    if (options.apiKey) message = message.split(options.apiKey).join('***');
    message = message.replace(/\s+/g, ' ').trim();
    return message.length > EXCERPT_CHARS ? `${message.slice(0, EXCERPT_CHARS)}…` : message;
  };

  async function exchange(messages: Message[], signal: AbortSignal): Promise<Completion> {
    const response = await fetchFn(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
      body: JSON.stringify({ model: options.model, messages, response_format: { type: 'json_object' }, temperature: 0 }),
      signal,
    });
    const text = await response.text();
    if (!response.ok) throw statusError(response.status, response.headers.get('retry-after'), excerpt(text));

    let body: {
      model?: unknown;
      choices?: { message?: { content?: unknown }; finish_reason?: unknown }[];
      usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
    };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new LlmUnavailableError(`LLM endpoint answered ${response.status} with a body that is not JSON: ${excerpt(text)}`, response.status);
    }
    if (!Array.isArray(body?.choices)) {
      throw new LlmUnavailableError(`LLM endpoint answered ${response.status} without choices: ${excerpt(text)}`, response.status);
    }
    const content = body.choices[0]?.message?.content;
    return {
      content: typeof content === 'string' ? content : null,
      model: typeof body.model === 'string' && body.model ? body.model : undefined,
      usage: { promptTokens: count(body.usage?.prompt_tokens), completionTokens: count(body.usage?.completion_tokens) },
    };
  }

  /** One HTTP call, bounded by the timeout and the caller's signal (either one cancels the request). */
  async function call(messages: Message[], signal: AbortSignal | undefined): Promise<Completion> {
    signal?.throwIfAborted();
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await withTimeout(exchange(messages, controller.signal), timeoutMs, () => {
        controller.abort();
        return new LlmUnavailableError(`LLM endpoint ${url} did not answer within ${timeoutMs} ms`);
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof LlmRateLimitedError || error instanceof LlmUnavailableError) throw error;
      // fetch's TypeError("fetch failed") hides the reason in its cause (ECONNREFUSED, ENOTFOUND …)
      const cause = error instanceof Error && error.cause ? `: ${errorText(error.cause)}` : '';
      throw new LlmUnavailableError(`LLM endpoint ${url} unreachable: ${errorText(error)}${cause}`, undefined, { cause: error });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  const endpoint = new URL(url);
  const server = { 'server.address': endpoint.hostname, 'server.port': Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80)), 'gen_ai.request.temperature': 0 };
  /** `call` in its span (GenAI conventions: tracing.ts); each HTTP call is one, a retried one too. */
  const traced = (messages: Message[], signal: AbortSignal | undefined, purpose: string) =>
    inChatSpan({ provider: 'openai', model: options.model, purpose, attributes: server }, () => call(messages, signal));

  /** `call` within the budget: a rate-limited answer pauses the budget for everyone and the call goes again once it lifts. */
  async function budgeted(messages: Message[], signal: AbortSignal | undefined, purpose: string): Promise<Completion> {
    const budget = options.budget;
    if (!budget) return traced(messages, signal, purpose);
    const waits = options.rateLimitWaits ?? 10;
    for (let waited = 0; ; waited++) {
      const permit = await budget.take(estimateTokens(messages.map((m) => m.content)), signal);
      let completion: Completion | undefined;
      try {
        completion = await traced(messages, signal, purpose);
        return completion;
      } catch (error) {
        if (!(error instanceof LlmRateLimitedError) || waited >= waits) throw error;
        await budget.pause(error.retryAt.getTime() - Date.now(), error.message);
      } finally {
        const used = completion ? completion.usage.promptTokens + completion.usage.completionTokens : 0;
        await permit.done(used > 0 ? used : undefined);
      }
    }
  }

  return {
    method: 'LLM',
    async complete<R extends LlmRequest>(request: R, opts?: { signal?: AbortSignal }): Promise<LlmAnswer<AnswerOf<R>>> {
      const schema = request.schema as z.ZodType<AnswerOf<R>>;
      const messages: Message[] = [
        { role: 'system', content: request.system },
        { role: 'user', content: request.prompt },
      ];
      const usage: LlmUsage = { promptTokens: 0, completionTokens: 0 };
      let issues: FieldIssue[] = [];
      for (let attempt = 1; attempt <= outputAttempts; attempt++) {
        const completion = await budgeted(messages, opts?.signal, request.purpose);
        usage.promptTokens += completion.usage.promptTokens;
        usage.completionTokens += completion.usage.completionTokens;

        const parsed = parseAnswer(completion.content, schema);
        if (parsed.ok) return { value: parsed.value, method: 'LLM', model: completion.model ?? options.model, usage };
        issues = parsed.issues;
        messages.push(
          { role: 'assistant', content: completion.content ?? '' },
          {
            role: 'user',
            content: `That answer does not fit: ${describeIssues(issues.slice(0, 10)).slice(0, 1_500)}. Answer again with one JSON object only, exactly of the shape asked for.`,
          },
        );
      }
      throw new LlmOutputError(request.purpose, outputAttempts, issues);
    },
  };
}

function parseAnswer<T>(content: string | null, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; issues: FieldIssue[] } {
  if (content === null) return { ok: false, issues: [{ path: [], message: 'the answer had no text content' }] };
  let json: unknown;
  try {
    json = JSON.parse(stripFence(content));
  } catch (error) {
    return { ok: false, issues: [{ path: [], message: `not JSON (${errorText(error)})` }] };
  }
  const result = schema.safeParse(json);
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: fieldIssues(result.error) };
}

/** Some local models wrap JSON in a markdown fence even in JSON mode. */
function stripFence(content: string): string {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/i.exec(content);
  return fenced ? fenced[1]! : content;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

function statusError(status: number, retryAfter: string | null, detail: string): Error {
  if (status === 429 || status === 503) {
    const retryAt = parseRetryAfter(retryAfter) ?? (status === 429 ? new Date(Date.now() + DEFAULT_RATE_LIMIT_WAIT_MS) : undefined);
    if (retryAt) return new LlmRateLimitedError(retryAt, `LLM endpoint answered ${status}; retry after ${retryAt.toISOString()}${detail ? `: ${detail}` : ''}`);
  }
  return new LlmUnavailableError(`LLM endpoint answered ${status}${detail ? `: ${detail}` : ''}`, status);
}

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3); a date in the past means now. */
function parseRetryAfter(value: string | null): Date | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return new Date(Date.now() + Number(trimmed) * 1_000);
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? new Date(Math.max(at, Date.now())) : undefined;
}
