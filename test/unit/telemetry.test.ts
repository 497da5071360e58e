import { createServer } from 'node:net';
import { trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.ts';
import { startTelemetry } from '../../src/lib/telemetry.ts';

/** What Telemetry.shutdown's comment claims: idempotent, and it never throws, whatever the receiver does. */
describe('telemetry shutdown', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('resolves, once and again, when the receiver takes the connection and never answers', async () => {
    // A receiver that accepts and says nothing: the export can only end by the shutdown's bound.
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
    process.env.OTEL_BSP_SCHEDULE_DELAY = '60000';
    try {
      const telemetry = await startTelemetry({ serviceName: 'jobgraph-test', logger: createLogger('silent') });
      expect(telemetry).toBeDefined();
      const span = trace.getTracer('test').startSpan('buffered');
      expect(span.isRecording()).toBe(true);
      span.end();
      const first = telemetry!.shutdown();
      await expect(first).resolves.toBeUndefined();
      await expect(telemetry!.shutdown()).resolves.toBeUndefined();
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 20_000);
});
