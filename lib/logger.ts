import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * JSON lines to stdout (journald collects them under systemd). Callers bind context with
 * `logger.child({ node, runId, step })` and log errors under the `err` key.
 */
export function createLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream } = { name: 'kip' }): Logger {
  const opts: LoggerOptions = {
    name: options.name,
    level: options.level ?? process.env.KIP_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that discards everything, for unit tests that do not assert on logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
