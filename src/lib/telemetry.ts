/**
 * OpenTelemetry's SDK for this process, when the standard OTEL_* variables ask for traces; nothing
 * at all otherwise (the SDK's modules are not even loaded, and lib/tracing.ts's spans are the API's
 * no-ops). Called by the entry points before anything starts; `shutdown` exports what is left.
 *
 * On when OTEL_TRACES_EXPORTER names an exporter, or an OTLP endpoint is set
 * (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); off when OTEL_SDK_DISABLED=true
 * or OTEL_TRACES_EXPORTER=none. Spans go to OTLP over HTTP as JSON (the OTLP exporter reads its
 * endpoint, headers and timeout from the OTEL_EXPORTER_OTLP_* variables itself), in batches
 * (OTEL_BSP_*), sampled by OTEL_TRACES_SAMPLER; the service is OTEL_SERVICE_NAME or the caller's
 * default, with OTEL_RESOURCE_ATTRIBUTES.
 */
import type * as SdkTrace from '@opentelemetry/sdk-trace';
import type { Logger } from './logger.ts';
import { withTimeout } from './timeouts.ts';

/** How long a stop waits for the last spans to be exported (a receiver that is gone would hold it up to OTEL_BSP_EXPORT_TIMEOUT). */
const SHUTDOWN_EXPORT_MS = 5_000;

export interface Telemetry {
  /** Exports the spans still buffered (for up to 5 s) and stops; idempotent, never throws. */
  shutdown(): Promise<void>;
}

const EXPORTERS = ['otlp', 'console', 'none'] as const;
const PROTOCOLS = ['http/json', 'http/protobuf', 'grpc'] as const;
const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

type Sampler = (typeof SAMPLERS)[number];

/** What the OTEL_* variables ask of this process's SDK; undefined when they ask for no traces. */
export interface TelemetrySettings {
  exporter: 'otlp' | 'console';
  sampler: Sampler;
  ratio: number;
  batch: { scheduledDelayMillis?: number; exportTimeoutMillis?: number; maxQueueSize?: number; maxExportBatchSize?: number };
  /** OTLP/HTTP as protobuf was asked for: spans go as JSON to the same endpoint (OTLP/HTTP receivers take both). */
  protobufAsked: boolean;
}

/**
 * The settings the standard variables give, or undefined when tracing is off. An invalid value is
 * an error naming the variable and what it may be.
 */
export function telemetrySettings(env: NodeJS.ProcessEnv = process.env): TelemetrySettings | undefined {
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const disabled = read('OTEL_SDK_DISABLED')?.toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') throw new Error(`OTEL_SDK_DISABLED must be true or false; got ${JSON.stringify(disabled)}`);
  if (disabled === 'true') return undefined;

  const exporters = (read('OTEL_TRACES_EXPORTER') ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  for (const name of exporters) {
    if (!(EXPORTERS as readonly string[]).includes(name)) throw new Error(`OTEL_TRACES_EXPORTER must be one of ${EXPORTERS.join(', ')}; got ${JSON.stringify(name)}`);
  }
  if (exporters.includes('none')) return undefined;
  const endpoint = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? read('OTEL_EXPORTER_OTLP_ENDPOINT');
  // Off by default: the specification's default exporter (OTLP to localhost:4318) is not assumed.
  if (exporters.length === 0 && !endpoint) return undefined;
  if (exporters.length > 1) throw new Error(`OTEL_TRACES_EXPORTER: one exporter at a time (otlp or console); got ${JSON.stringify(exporters.join(','))}`);
  const exporter = exporters[0] === 'console' ? 'console' : 'otlp';

  const protocolVariable = read('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = read(protocolVariable)?.toLowerCase() ?? 'http/json';
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) throw new Error(`${protocolVariable} must be http/json (or http/protobuf, sent as JSON); got ${JSON.stringify(protocol)}`);
  if (exporter === 'otlp' && protocol === 'grpc') {
    throw new Error(`${protocolVariable}=grpc: jobgraph exports OTLP over HTTP only (http/json). Point OTEL_EXPORTER_OTLP_ENDPOINT at the receiver's HTTP port (4318 on the OpenTelemetry Collector) and set ${protocolVariable}=http/json`);
  }

  const sampler = (read('OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on') as Sampler;
  if (!SAMPLERS.includes(sampler)) throw new Error(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(', ')}; got ${JSON.stringify(sampler)}`);
  const ratioText = read('OTEL_TRACES_SAMPLER_ARG');
  const ratio = ratioText === undefined ? 1 : Number(ratioText);
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1; got ${JSON.stringify(ratioText)}`);

  const whole = (name: string): number | undefined => {
    const text = read(name);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number of at least 0; got ${JSON.stringify(text)}`);
    return value;
  };
  const batch = Object.fromEntries(
    Object.entries({
      scheduledDelayMillis: whole('OTEL_BSP_SCHEDULE_DELAY'),
      exportTimeoutMillis: whole('OTEL_BSP_EXPORT_TIMEOUT'),
      maxQueueSize: whole('OTEL_BSP_MAX_QUEUE_SIZE'),
      maxExportBatchSize: whole('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    }).filter(([, value]) => value !== undefined),
  ) as TelemetrySettings['batch'];
  return { exporter, sampler, ratio, batch, protobufAsked: exporter === 'otlp' && protocol === 'http/protobuf' };
}

/**
 * Registers the SDK (tracer provider, AsyncLocalStorage context, W3C trace-context propagation)
 * when the variables ask for traces; undefined, having loaded nothing, when they do not.
 * `serviceName` names the process unless OTEL_SERVICE_NAME does.
 */
export async function startTelemetry(opts: { serviceName: string; logger: Logger }): Promise<Telemetry | undefined> {
  const settings = telemetrySettings(process.env);
  if (!settings) return undefined;
  const log = opts.logger.child({ component: 'telemetry' });
  const [api, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, resources, sdk] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
  ]);
  // The SDK's own troubles (an export the receiver refused, a full queue) go to the app's log.
  api.diag.setLogger(
    {
      error: (message, ...args) => log.warn({ args }, `OpenTelemetry: ${message}`),
      warn: (message, ...args) => log.warn({ args }, `OpenTelemetry: ${message}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    api.DiagLogLevel.WARN,
  );
  if (settings.protobufAsked) log.warn('OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: jobgraph sends OTLP/HTTP as JSON (http/json), to the same endpoint');

  const exporter =
    settings.exporter === 'console'
      ? new sdk.ConsoleSpanExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': opts.serviceName }))
    // OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME over it.
    .merge(resources.detectResources({ detectors: [resources.resourceAttributesEnvDetector, resources.serviceNameEnvDetector] }));
  const provider = new sdk.TracerProvider({
    resource,
    sampler: sampler(sdk, settings),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter, ...settings.batch })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  api.context.setGlobalContextManager(contextManager);
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);
  log.info({ exporter: settings.exporter, sampler: settings.sampler, service: resource.attributes['service.name'] }, 'OpenTelemetry traces on');

  let stopping: Promise<void> | undefined;
  return {
    shutdown: () =>
      (stopping ??= withTimeout(provider.shutdown(), SHUTDOWN_EXPORT_MS, `not exported within ${SHUTDOWN_EXPORT_MS} ms`).catch((error: unknown) => {
        log.warn({ err: error }, 'OpenTelemetry: the last spans could not be exported');
      })),
  };
}

function sampler(sdk: typeof SdkTrace, settings: TelemetrySettings): SdkTrace.Sampler {
  switch (settings.sampler) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return new sdk.TraceIdRatioBasedSampler(settings.ratio);
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(settings.ratio) });
    default: {
      const never: never = settings.sampler;
      throw new Error(`unknown sampler ${String(never)}`);
    }
  }
}
