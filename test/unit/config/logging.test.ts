import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, temporalLogger } from '../../../src/config/logging';

/** Every line the logger wrote, parsed. */
function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { stream, lines };
}

describe('structured logs', () => {
  it("Temporal's worker and activity logs become one JSON line each, with their metadata, at their level", async () => {
    const { stream, lines } = capture();
    const log = temporalLogger(createLogger('info', stream).child({ component: 'worker' }));
    log.warn('Activity failed', { activityType: 'reserveExposure', attempt: 2 });
    log.debug('not at info');
    log.log('ERROR', 'Workflow task failed', { workflowId: 'deal-1' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        service: 'warden',
        component: 'worker',
        msg: 'Activity failed',
        activityType: 'reserveExposure',
        attempt: 2,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      }),
      expect.objectContaining({ level: 50, msg: 'Workflow task failed', workflowId: 'deal-1' }),
    ]);
  });

  it('never writes a credential: authorization headers and approval tokens are censored', async () => {
    const { stream, lines } = capture();
    const logger = createLogger('info', stream);
    logger.info({ req: { headers: { authorization: 'Bearer wk_secret' } }, token: 'wtr_abc' }, 'request');
    temporalLogger(logger).info('signal', { input: { token: 'eyJhbGciOi' } });
    await new Promise((resolve) => setImmediate(resolve));
    const written = JSON.stringify(lines);
    expect(written).not.toContain('wk_secret');
    expect(written).not.toContain('wtr_abc');
    expect(written).not.toContain('eyJhbGciOi');
    expect(lines[0]).toMatchObject({ req: { headers: { authorization: '[redacted]' } }, token: '[redacted]' });
  });
});
