import { DefaultLogger, type LogEntry, Runtime } from '@temporalio/worker';

/**
 * One line per warning, without its stack: most warnings in tests are the failures a test provokes on
 * purpose (a refused input, a webhook answering 503), and their stacks buried the real ones. Errors keep
 * their stack.
 */
function oneLine(entry: LogEntry): void {
  const { error, failure, ...rest } = (entry.meta ?? {}) as Record<string, unknown>;
  const cause = error ?? failure;
  const why =
    cause instanceof Error
      ? `${cause.name}: ${cause.message}${entry.level === 'ERROR' && cause.stack ? `\n${cause.stack}` : ''}`
      : cause === undefined
        ? ''
        : String(cause);
  const where = ['workflowType', 'activityType', 'workflowId']
    .map((k) => rest[k])
    .filter((v): v is string => typeof v === 'string');
  process.stderr.write(
    `[temporal ${entry.level.toLowerCase()}] ${entry.message}${where.length ? ` (${where.join(' ')})` : ''}${why ? `: ${why}` : ''}\n`,
  );
}

// Workers in tests log warnings and errors only; lifecycle chatter hides failures.
try {
  Runtime.install({ logger: new DefaultLogger('WARN', oneLine) });
} catch {
  // Already installed in this process.
}
