/**
 * Spans for the app, written against the OpenTelemetry API only. Until an SDK is registered
 * (lib/telemetry.ts, when the OTEL_* variables ask for traces) the API's tracer is a no-op: a span
 * is an object that records nothing, a context carries nothing, and `currentTraceparent` is null.
 *
 * A job carries its trace in the ledger (Job.traceparent, the W3C traceparent of the span that
 * enqueued it), so the process that dispatches it and the one that runs it continue that trace,
 * whichever queue carried the id.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TimeInput,
} from '@opentelemetry/api';
import { CodedError, errorText } from './errors.ts';

export { SpanKind, type Attributes, type Context, type Span };

/** The app's tracer: delegates to the SDK once one is registered, a no-op until then. */
const tracer = trace.getTracer('jobgraph');

export interface SpanOptions {
  kind?: SpanKind;
  /** The context the span is a child of (default: the active one). */
  parent?: Context;
  startTime?: TimeInput;
}

/**
 * Runs `fn` in a new span (the active one while it runs), ended when `fn` settles. A throw is
 * recorded on the span (exception event, status ERROR, `error.type`) and rethrown.
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, opts: SpanOptions = {}): Promise<T> {
  const span = startSpan(name, attributes, opts);
  return context.with(trace.setSpan(opts.parent ?? context.active(), span), async () => {
    try {
      return await fn(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A span started now (or at `startTime`), for its caller to end: for work that does not fit one callback. */
export function startSpan(name: string, attributes: Attributes, opts: SpanOptions = {}): Span {
  return tracer.startSpan(
    name,
    { attributes, kind: opts.kind ?? SpanKind.INTERNAL, ...(opts.startTime !== undefined ? { startTime: opts.startTime } : {}) },
    opts.parent ?? context.active(),
  );
}

/** Runs `fn` with `span` as the active span, on top of `parent` (default: the active context). */
export function inSpan<T>(span: Span, fn: () => T, parent: Context = context.active()): T {
  return context.with(trace.setSpan(parent, span), fn);
}

/** Marks a span failed by `error`: the exception as an event, status ERROR, and `error.type` (a code when it has one). */
export function failSpan(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  span.recordException(error instanceof Error ? error : errorText(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(error) });
  span.setAttribute('error.type', error instanceof CodedError ? error.code : error instanceof Error ? error.name : 'Error');
}

/** The W3C traceparent of the active span (or of `ctx`), to store with what continues it elsewhere; null when none is recorded. */
export function currentTraceparent(ctx: Context = context.active()): string | null {
  const carrier: { traceparent?: string } = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ?? null;
}

/**
 * The context whose parent is the span a stored traceparent names (a remote parent), on top of
 * `base`: the root context by default, so nothing of the caller's own context leaks in (an
 * in-process queue delivers inside the dispatching call's context). `base` itself when there is
 * none.
 */
export function contextFromTraceparent(traceparent: string | null | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!traceparent) return base;
  return propagation.extract(base, { traceparent });
}

/** Whether `ctx` (default: the active context) has a span, recorded or propagated. */
export function hasSpan(ctx: Context = context.active()): boolean {
  return trace.getSpan(ctx) !== undefined;
}

/** The active span, if any. */
export function activeSpan(): Span | undefined {
  return trace.getActiveSpan();
}
