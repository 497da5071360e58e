/**
 * A span per model call, after OpenTelemetry's GenAI semantic conventions: named `chat <model>`,
 * a client span with the provider, the model asked and the model that answered, and the tokens
 * in and out. It is a child of whatever span is active: in a worker, the job's run span. A no-op
 * unless traces are on (lib/telemetry.ts).
 */
import { SpanKind, withSpan, type Attributes } from '../../lib/tracing.ts';
import type { LlmUsage } from './client.ts';

export interface ChatCall {
  /** gen_ai.provider.name: 'openai' for an OpenAI-compatible endpoint, 'jobgraph.heuristic' offline. */
  provider: string;
  /** The model asked for (gen_ai.request.model). */
  model: string;
  /** The request's purpose (requests.ts): attributes, mappings, scoping, rules. */
  purpose: string;
  /** More attributes: the server, the temperature. */
  attributes?: Attributes;
}

/** Runs one model call in its span; what it answers sets the usage and the model that answered. */
export function inChatSpan<T extends { usage: LlmUsage; model?: string | undefined }>(call: ChatCall, fn: () => Promise<T>): Promise<T> {
  const attributes: Attributes = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': call.provider,
    // The name before gen_ai.provider.name, still the one some backends read.
    'gen_ai.system': call.provider,
    'gen_ai.request.model': call.model,
    'gen_ai.output.type': 'json',
    'jobgraph.llm.purpose': call.purpose,
    ...call.attributes,
  };
  return withSpan(
    `chat ${call.model}`,
    attributes,
    async (span) => {
      const answer = await fn();
      span.setAttributes({
        'gen_ai.response.model': answer.model ?? call.model,
        'gen_ai.usage.input_tokens': answer.usage.promptTokens,
        'gen_ai.usage.output_tokens': answer.usage.completionTokens,
      });
      return answer;
    },
    { kind: SpanKind.CLIENT },
  );
}
