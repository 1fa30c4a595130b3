/**
 * gRPC handlers of the node's eyes (issue 11): Watch (server stream from the EventLog), Inventory
 * and HashReport. Registered by agent/server.ts in one block; errors go through its toServiceError,
 * except an expired Watch sequence, which is OUT_OF_RANGE (the gRPC analogue of a 410 Gone).
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../lib/logger.ts';
import type { HashReportRequest__Output } from '../proto/kip/generated/kip/v1/HashReportRequest.ts';
import type { HashReportResponse } from '../proto/kip/generated/kip/v1/HashReportResponse.ts';
import type { InventoryReport } from '../proto/kip/generated/kip/v1/InventoryReport.ts';
import type { InventoryRequest__Output } from '../proto/kip/generated/kip/v1/InventoryRequest.ts';
import type { NodeInfo } from '../proto/kip/generated/kip/v1/NodeInfo.ts';
import type { WatchEvent } from '../proto/kip/generated/kip/v1/WatchEvent.ts';
import type { WatchRequest__Output } from '../proto/kip/generated/kip/v1/WatchRequest.ts';
import { toServiceError } from './server-errors.ts';
import { PreconditionError } from './upgrade/errors.ts';
import { WatchSequenceExpiredError, type EventLog, type SequencedEvent } from './watch/event-log.ts';
import type { HashReport, InventoryContainer } from './watch/inventory.ts';

export interface WatchHandlerDeps {
  readonly events: EventLog;
  /** Undefined when the agent has no workload access (no kubeconfig): the calls fail with WORKLOAD_UNAVAILABLE. */
  readonly inventory?: () => Promise<InventoryView>;
  readonly hashReport?: (targetVersion: string | undefined) => Promise<HashReport>;
  readonly logger: Logger;
}

export interface InventoryView {
  readonly kubeletVersion: string;
  readonly runtime: string;
  readonly containers: readonly InventoryContainer[];
  readonly skipFileVersion: string;
  readonly acceptedVersions: readonly string[];
}

/** GetNode's eyes fields from the node watcher's connection counts and the journal's closed-connection window. */
export function eyesNodeFields(counts: Readonly<Record<string, number>> | undefined, errors: { windowMinutes: number; count: number; minutesWithErrors: number; lastAtUnixMs: number } | undefined): Pick<NodeInfo, 'apiserverConnections' | 'connectionErrors'> {
  return {
    apiserverConnections: counts ? Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)).map(([endpoint, established]) => ({ endpoint, established })) : [],
    ...(errors ? { connectionErrors: errors } : {}),
  };
}

export interface WatchHandlers {
  Watch: grpc.handleServerStreamingCall<WatchRequest__Output, WatchEvent>;
  Inventory: grpc.handleUnaryCall<InventoryRequest__Output, InventoryReport>;
  HashReport: grpc.handleUnaryCall<HashReportRequest__Output, HashReportResponse>;
}

export function watchEventToProto(e: SequencedEvent): WatchEvent {
  return {
    sequence: e.sequence,
    kind: e.kind,
    observedAtUnixMs: e.observedAtMs,
    podUid: e.podUid ?? '',
    podNamespace: e.podNamespace ?? '',
    podName: e.podName ?? '',
    containerName: e.containerName ?? '',
    beforeId: e.beforeId ?? '',
    afterId: e.afterId ?? '',
    beforeCreatedAtUnixNs: e.beforeCreatedAtNs?.toString() ?? '',
    afterCreatedAtUnixNs: e.afterCreatedAtNs?.toString() ?? '',
    restarts: e.restarts ?? 0,
    exitCode: e.exitCode ?? 0,
    reason: e.reason ?? '',
    detail: e.detail ?? '',
  };
}

function serviceError(err: unknown): grpc.ServiceError {
  const e = toServiceError(err);
  if (err instanceof WatchSequenceExpiredError) e.code = grpc.status.OUT_OF_RANGE;
  return e;
}


export function createWatchHandlers(deps: WatchHandlerDeps): WatchHandlers {
  const log = deps.logger.child({ component: 'grpc-watch' });
  const unary =
    <Req, Res>(name: string, fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      fn(call.request).then(
        (res) => callback(null, res),
        (err: unknown) => {
          log.warn({ method: name, err }, 'call failed');
          callback(serviceError(err));
        },
      );
    };
  const need = <T>(f: T | undefined): T => {
    if (f === undefined) throw new PreconditionError('WORKLOAD_UNAVAILABLE', 'the agent has no kubeconfig: set kubeconfig in its config to read this node\'s pods');
    return f;
  };
  return {
    Watch: (call) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      call.on('close', () => abort.abort());
      const from = Number(call.request.fromSequence);
      const run = async () => {
        for await (const e of deps.events.subscribe(from, abort.signal)) {
          if (call.cancelled) return;
          call.write(watchEventToProto(e));
        }
      };
      run().then(
        () => {
          if (!call.cancelled) call.end();
        },
        (err: unknown) => {
          log.info({ method: 'Watch', err }, 'watch ended with an error');
          call.emit('error', serviceError(err));
        },
      );
    },
    Inventory: unary('Inventory', async () => {
      const inv = await need(deps.inventory)();
      return {
        kubeletVersion: inv.kubeletVersion,
        runtime: inv.runtime,
        containers: inv.containers.map((c) => ({ ...c, matchingVersions: [...c.matchingVersions], hashes: c.hashes.map((h) => ({ ...h })), driftFields: [...c.driftFields] })),
        skipFileVersion: inv.skipFileVersion,
        acceptedVersions: [...inv.acceptedVersions],
      };
    }),
    HashReport: unary('HashReport', async (req: HashReportRequest__Output) => {
      const r = await need(deps.hashReport)(req.targetVersion || undefined);
      return {
        kubeletVersion: r.kubeletVersion,
        selfCheckOk: r.selfCheck.ok,
        selfCheckCode: r.selfCheck.code,
        selfCheckMessage: r.selfCheck.message,
        predictedRestarts: [...r.predictedRestarts],
        consistent: r.consistent,
        compared: r.compared,
        problems: [...r.problems],
      };
    }),
  };
}
