/**
 * The client interceptor every agent call goes through: it gives each call a deadline (per
 * method, unless the caller set one) and retries idempotent unary calls on UNAVAILABLE with
 * exponential backoff, within the same overall deadline.
 */
import * as grpc from '@grpc/grpc-js';

export interface InterceptorOptions {
  readonly defaultDeadlineMs: number;
  /** Per full method path (/kip.v1.Agent/Upgrade), overriding the default. */
  readonly deadlineMs: Readonly<Record<string, number>>;
  /** Full method paths that are safe to repeat. Only unary ones are retried. */
  readonly idempotent: ReadonlySet<string>;
  readonly maxRetries: number;
  readonly backoffMs: number;
}

export function kipInterceptor(opts: InterceptorOptions): grpc.Interceptor {
  return (options, nextCall) => {
    const def = options.method_definition;
    const method = def.path;
    const callOptions: grpc.InterceptorOptions =
      options.deadline !== undefined ? options : { ...options, deadline: Date.now() + (opts.deadlineMs[method] ?? opts.defaultDeadlineMs) };
    const unary = !def.requestStream && !def.responseStream;
    if (!unary || !opts.idempotent.has(method) || opts.maxRetries <= 0) return new grpc.InterceptingCall(nextCall(callOptions));

    const deadlineAt = callOptions.deadline instanceof Date ? callOptions.deadline.getTime() : Number(callOptions.deadline);
    let savedMetadata = new grpc.Metadata();
    let savedMessage: unknown;
    const requester: grpc.Requester = {
      start(metadata, listener, next) {
        savedMetadata = metadata;
        let received: { value: unknown } | undefined;
        let headers: grpc.Metadata | undefined;
        const finish = (status: grpc.StatusObject) => {
          if (headers) listener.onReceiveMetadata(headers);
          if (status.code === grpc.status.OK && received) listener.onReceiveMessage(received.value);
          listener.onReceiveStatus(status);
        };
        let attempt = 0;
        const onStatus = (status: grpc.StatusObject) => {
          const wait = opts.backoffMs * 2 ** attempt;
          if (status.code === grpc.status.UNAVAILABLE && attempt < opts.maxRetries && Date.now() + wait < deadlineAt) {
            attempt += 1;
            received = undefined;
            headers = undefined;
            setTimeout(retry, wait);
          } else {
            finish(status);
          }
        };
        const retry = () => {
          const call = nextCall(callOptions);
          call.start(savedMetadata, {
            onReceiveMetadata: (md) => {
              headers = md;
            },
            onReceiveMessage: (m) => {
              received = { value: m };
            },
            onReceiveStatus: onStatus,
          });
          call.sendMessage(savedMessage);
          call.halfClose();
        };
        next(metadata, {
          onReceiveMetadata: (md: grpc.Metadata) => {
            headers = md;
          },
          onReceiveMessage: (m: unknown) => {
            received = { value: m };
          },
          onReceiveStatus: onStatus,
        });
      },
      sendMessage(message, next) {
        savedMessage = message;
        next(message);
      },
    };
    return new grpc.InterceptingCall(nextCall(callOptions), requester);
  };
}
