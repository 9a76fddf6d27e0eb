import type { Logger, LogLevel, LogMetadata } from '@temporalio/common';
import { pino, type Logger as Pino } from 'pino';

import type { WardenLogLevel } from './index';

/**
 * Warden's structured log: one JSON line per event on stdout, for the API
 * (its requests), the worker and activities (through Temporal's runtime
 * logger). Credentials never reach it: authorization headers and approval
 * tokens are censored wherever they appear.
 */
export function createLogger(level: WardenLogLevel, destination?: NodeJS.WritableStream): Pino {
  return pino(
    {
      level,
      base: { service: 'warden' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'token', '*.token', '*.*.token'], censor: '[redacted]' },
    },
    destination ?? process.stdout,
  );
}

const LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Temporal's Logger over pino: the SDK's worker, workflow and activity logs as the same structured lines. */
export function temporalLogger(logger: Pino): Logger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => logger[LEVEL[level]](meta ?? {}, message);
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
