import { describe, expect, it } from 'vitest';

import { createGatewayMetrics } from '../../../gateway/src/metrics.js';
import { SessionRecord } from '../../../gateway/src/ws/session_record.js';
import { createMemoryLogger } from '../support/memory_logger.js';

describe('SessionRecord', () => {
  it('counts a session opened and closed, by outcome, and logs how it closed', async () => {
    const metrics = createGatewayMetrics();
    const { logger, entries } = createMemoryLogger();
    const byServer = new SessionRecord('realtime', metrics);
    byServer.closing(1013, 'server full');
    byServer.report(logger, 'realtime session closed', 1500, 1234.6, { extra: 'x' });
    const byClient = new SessionRecord('whisperlive', metrics);
    byClient.closedByClient(1000);
    byClient.report(logger, 'ws session closed', 10, 0);

    const text = await metrics.registry.metrics();
    expect(text).toContain('stt_gateway_sessions_total{api="realtime",outcome="refused"} 1');
    expect(text).toContain(
      'stt_gateway_sessions_total{api="whisperlive",outcome="client_closed"} 1',
    );
    expect(entries.map(({ message, ...fields }) => ({ message, ...fields }))).toEqual([
      expect.objectContaining({
        message: 'realtime session closed',
        duration_ms: 1500,
        audio_ms: 1235,
        close_code: 1013,
        close_reason: 'server full',
        extra: 'x',
      }),
      expect.objectContaining({
        message: 'ws session closed',
        close_code: 1000,
        close_reason: 'client closed the connection',
      }),
    ]);
  });
});
