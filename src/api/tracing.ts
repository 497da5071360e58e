/**
 * A span per GraphQL operation (`mutation countWords`, `query`), the parent of what it does: an
 * enqueue's span, and through the job's stored traceparent the spans of the processes that
 * dispatch and run it. A request that brings a W3C `traceparent` header continues its caller's
 * trace. A no-op unless traces are on (lib/telemetry.ts).
 */
import { getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { activeSpan, contextFromTraceparent, failSpan, inSpan, SpanKind, startSpan, type Span } from '../lib/tracing.ts';

export function useTracing(): Plugin {
  return {
    instrumentation: {
      // Parse, validate, context and execute of one operation (each of a batch on its own).
      operation: ({ request }, wrapped) => {
        const parent = contextFromTraceparent(request.headers.get('traceparent'));
        const span = startSpan('graphql', {}, { kind: SpanKind.SERVER, parent });
        return inSpan(
          span,
          async () => {
            try {
              await wrapped();
            } catch (error) {
              failSpan(span, error);
              throw error;
            } finally {
              span.end();
            }
          },
          parent,
        );
      },
    },
    onExecute({ args }) {
      const span = named(activeSpan(), args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          if (span && 'errors' in result) failedWith(span, result as ExecutionResult);
        },
      };
    },
    onSubscribe({ args }) {
      named(activeSpan(), args.document, args.operationName);
    },
  };
}

/** Names the operation's span after the GraphQL conventions: `<type> <name>`, with both as attributes. */
function named(span: Span | undefined, document: DocumentNode, operationName: string | null | undefined): Span | undefined {
  if (!span?.isRecording()) return undefined;
  const operation = getOperationAST(document, operationName);
  const type = operation?.operation ?? 'query';
  const name = operation?.name?.value;
  span.updateName(name ? `${type} ${name}` : type);
  span.setAttributes({ 'graphql.operation.type': type, ...(name ? { 'graphql.operation.name': name } : {}) });
  return span;
}

/** An operation whose result carries errors failed, though nothing was thrown. */
function failedWith(span: Span, result: ExecutionResult): void {
  const errors = result.errors ?? [];
  if (errors.length === 0) return;
  const first = errors[0]!;
  failSpan(span, first.originalError ?? first);
  if (errors.length > 1) span.setAttribute('graphql.error.count', errors.length);
}
