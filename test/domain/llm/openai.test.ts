import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LlmOutputError, LlmRateLimitedError, LlmUnavailableError } from '../../../src/domain/llm/errors.ts';
import { createOpenAiClient } from '../../../src/domain/llm/openai.ts';
import { mappingsRequest } from '../../../src/domain/llm/requests.ts';
import { ChatServer, completion } from './chat-server.ts';

/** The OpenAI-compatible client against a local chat-completions server: no network beyond 127.0.0.1. */

const API_KEY = 'sk-test-0123456789secret';
const attribute = { name: 'Loan Amount', description: 'Outstanding amount', dataType: 'DECIMAL', isKey: false, isCritical: true };
const candidates = [{ id: 'el-1', dataset: 'core', table: 'loans', column: 'amount', dataType: 'numeric(18,2)', description: 'Outstanding principal' }];
const request = mappingsRequest(attribute, candidates);
const good = { mappings: [{ dataElementId: 'el-1', confidence: 0.9, rationale: 'same name' }] };

let server: ChatServer;
beforeEach(async () => {
  server = await ChatServer.start();
});
afterEach(async () => {
  await server.close();
});

const client = (options: { timeoutMs?: number; outputAttempts?: number } = {}) =>
  createOpenAiClient({ baseUrl: `${server.baseUrl}/`, apiKey: API_KEY, model: 'llama3.1:8b', ...options });

/** The rejection of `promise`, failing the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<any> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
}

describe('openai client', () => {
  it('asks the chat-completions endpoint in JSON mode and returns the parsed answer', async () => {
    server.reply(completion(JSON.stringify(good), { prompt_tokens: 120, completion_tokens: 30 }));
    const answer = await client().complete(request);

    expect(answer).toEqual({ value: good, method: 'LLM', model: 'test-model-2026', usage: { promptTokens: 120, completionTokens: 30 } });
    const [sent] = server.received;
    expect(sent!.url).toBe('/v1/chat/completions');
    expect(sent!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent!.headers['content-type']).toBe('application/json');
    expect(sent!.body).toEqual({
      model: 'llama3.1:8b',
      messages: [
        { role: 'system', content: request.system },
        { role: 'user', content: request.prompt },
      ],
      response_format: { type: 'json_object' },
      temperature: 0,
    });
  });

  it('sends no Authorization header without a key, and names the configured model when the answer names none', async () => {
    server.reply({ body: { choices: [{ message: { content: JSON.stringify(good) } }] } });
    const answer = await createOpenAiClient({ baseUrl: server.baseUrl, model: 'qwen2.5:7b' }).complete(request);
    expect(server.received[0]!.headers.authorization).toBeUndefined();
    expect(answer.model).toBe('qwen2.5:7b');
    expect(answer.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('asks again after output that is not JSON, saying so, and sums the usage of both calls', async () => {
    server.reply(completion('Sure! Here is the JSON: {"mappings": [', { prompt_tokens: 100, completion_tokens: 10 }));
    server.reply(completion(JSON.stringify(good), { prompt_tokens: 150, completion_tokens: 25 }));
    const answer = await client().complete(request);

    expect(answer.value).toEqual(good);
    expect(answer.usage).toEqual({ promptTokens: 250, completionTokens: 35 });
    expect(server.received).toHaveLength(2);
    const retry = server.received[1]!.body.messages;
    expect(retry).toHaveLength(4);
    expect(retry[2]).toEqual({ role: 'assistant', content: 'Sure! Here is the JSON: {"mappings": [' });
    expect(retry[3].role).toBe('user');
    expect(retry[3].content).toMatch(/not JSON/);
  });

  it('tells the model which field did not fit, and gives up after outputAttempts with LlmOutputError naming it', async () => {
    const unfit = JSON.stringify({ mappings: [{ dataElementId: 'el-1', confidence: 7, rationale: 'sure' }] });
    server.reply(completion(unfit), completion(unfit), completion(unfit));
    const error = await rejection(client().complete(request));

    expect(error).toBeInstanceOf(LlmOutputError);
    expect(error.code).toBe('LLM_BAD_OUTPUT');
    expect(error.message).toMatch(/"mappings".*3 attempts.*mappings\.0\.confidence/);
    expect(error.issues).toEqual([{ path: ['mappings', '0', 'confidence'], message: expect.any(String) }]);
    expect(server.received).toHaveLength(3);
    expect(server.received[1]!.body.messages[3].content).toMatch(/mappings\.0\.confidence/);
  });

  it('honours outputAttempts', async () => {
    server.reply(completion('{}'));
    const error = await rejection(client({ outputAttempts: 1 }).complete(request));
    expect(error).toBeInstanceOf(LlmOutputError);
    expect(error.message).toMatch(/1 attempt: mappings: /);
    expect(server.received).toHaveLength(1);
  });

  it('turns a 429 with Retry-After in seconds into LlmRateLimitedError at that time', async () => {
    server.reply({ status: 429, headers: { 'retry-after': '7' }, body: { error: { message: 'Rate limit reached' } } });
    const before = Date.now();
    const error = await rejection(client().complete(request));
    const after = Date.now();

    expect(error).toBeInstanceOf(LlmRateLimitedError);
    expect(error.code).toBe('LLM_RATE_LIMITED');
    expect(error.retryAt.getTime()).toBeGreaterThanOrEqual(before + 7_000);
    expect(error.retryAt.getTime()).toBeLessThanOrEqual(after + 7_000);
    expect(server.received).toHaveLength(1);
  });

  it('waits 30 s after a 429 without Retry-After', async () => {
    server.reply({ status: 429, body: 'slow down' });
    const before = Date.now();
    const error = await rejection(client().complete(request));
    expect(error).toBeInstanceOf(LlmRateLimitedError);
    expect(error.retryAt.getTime()).toBeGreaterThanOrEqual(before + 30_000);
    expect(error.retryAt.getTime()).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('turns a 503 with an HTTP-date Retry-After into LlmRateLimitedError at that date', async () => {
    const at = new Date(Math.ceil(Date.now() / 1_000) * 1_000 + 90_000);
    server.reply({ status: 503, headers: { 'retry-after': at.toUTCString() }, body: 'model loading' });
    const error = await rejection(client().complete(request));
    expect(error).toBeInstanceOf(LlmRateLimitedError);
    expect(error.retryAt.getTime()).toBe(at.getTime());
  });

  it('reports a 503 without Retry-After and a 500 as LlmUnavailableError, with an excerpt and without the key', async () => {
    server.reply({ status: 503, body: 'upstream down' });
    const unavailable = await rejection(client().complete(request));
    expect(unavailable).toBeInstanceOf(LlmUnavailableError);
    expect(unavailable.status).toBe(503);

    server.reply({ status: 500, body: { error: { message: `invalid key ${API_KEY}: ${'x'.repeat(1_000)}` } } });
    const error = await rejection(client().complete(request));
    expect(error).toBeInstanceOf(LlmUnavailableError);
    expect(error.code).toBe('LLM_UNAVAILABLE');
    expect(error.status).toBe(500);
    expect(error.message).toMatch(/answered 500: invalid key \*\*\*/);
    expect(error.message).not.toContain(API_KEY);
    expect(error.message.length).toBeLessThan(400);
  });

  it('stops the request when the caller aborts, rejecting with the signal’s reason', async () => {
    server.reply('hang');
    const controller = new AbortController();
    const pending = rejection(client().complete(request, { signal: controller.signal }));
    await server.requests(1);
    const reason = new Error('job cancelled');
    controller.abort(reason);

    expect(await pending).toBe(reason);
    await expect.poll(() => server.received[0]!.dropped).toBe(true);
    // An already-aborted signal sends nothing.
    await expect(client().complete(request, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(server.received).toHaveLength(1);
  });

  it('gives up on an endpoint that does not answer within timeoutMs, and drops the connection', async () => {
    server.reply('hang');
    const started = Date.now();
    const error = await rejection(client({ timeoutMs: 200 }).complete(request));
    expect(error).toBeInstanceOf(LlmUnavailableError);
    expect(error.message).toMatch(/did not answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect.poll(() => server.received[0]!.dropped).toBe(true);
  });

  it('reports an unreachable endpoint as LlmUnavailableError', async () => {
    const gone = await ChatServer.start();
    await gone.close();
    const error = await rejection(createOpenAiClient({ baseUrl: gone.baseUrl, model: 'm' }).complete(request));
    expect(error).toBeInstanceOf(LlmUnavailableError);
    expect(error.message).toMatch(/unreachable/);
  });

  it('uses an injected fetch, and reads JSON wrapped in a markdown fence', async () => {
    const calls: string[] = [];
    const fetch: typeof globalThis.fetch = async (input) => {
      calls.push(String(input));
      return Response.json({ choices: [{ message: { content: '```json\n' + JSON.stringify(good) + '\n```' } }] });
    };
    const answer = await createOpenAiClient({ baseUrl: 'http://llm.invalid/v1', model: 'm', fetch }).complete(request);
    expect(answer.value).toEqual(good);
    expect(calls).toEqual(['http://llm.invalid/v1/chat/completions']);
  });
});
