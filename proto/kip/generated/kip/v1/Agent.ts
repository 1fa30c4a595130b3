// Original file: proto/kip/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { EtcdSnapshotInfo as _kip_v1_EtcdSnapshotInfo, EtcdSnapshotInfo__Output as _kip_v1_EtcdSnapshotInfo__Output } from '../../kip/v1/EtcdSnapshotInfo.ts';
import type { EtcdSnapshotRequest as _kip_v1_EtcdSnapshotRequest, EtcdSnapshotRequest__Output as _kip_v1_EtcdSnapshotRequest__Output } from '../../kip/v1/EtcdSnapshotRequest.ts';
import type { FetchSnapshotRequest as _kip_v1_FetchSnapshotRequest, FetchSnapshotRequest__Output as _kip_v1_FetchSnapshotRequest__Output } from '../../kip/v1/FetchSnapshotRequest.ts';
import type { GetNodeRequest as _kip_v1_GetNodeRequest, GetNodeRequest__Output as _kip_v1_GetNodeRequest__Output } from '../../kip/v1/GetNodeRequest.ts';
import type { GetRunRequest as _kip_v1_GetRunRequest, GetRunRequest__Output as _kip_v1_GetRunRequest__Output } from '../../kip/v1/GetRunRequest.ts';
import type { HashReportRequest as _kip_v1_HashReportRequest, HashReportRequest__Output as _kip_v1_HashReportRequest__Output } from '../../kip/v1/HashReportRequest.ts';
import type { HashReportResponse as _kip_v1_HashReportResponse, HashReportResponse__Output as _kip_v1_HashReportResponse__Output } from '../../kip/v1/HashReportResponse.ts';
import type { HealRequest as _kip_v1_HealRequest, HealRequest__Output as _kip_v1_HealRequest__Output } from '../../kip/v1/HealRequest.ts';
import type { HealResponse as _kip_v1_HealResponse, HealResponse__Output as _kip_v1_HealResponse__Output } from '../../kip/v1/HealResponse.ts';
import type { HoldRequest as _kip_v1_HoldRequest, HoldRequest__Output as _kip_v1_HoldRequest__Output } from '../../kip/v1/HoldRequest.ts';
import type { HoldState as _kip_v1_HoldState, HoldState__Output as _kip_v1_HoldState__Output } from '../../kip/v1/HoldState.ts';
import type { InventoryReport as _kip_v1_InventoryReport, InventoryReport__Output as _kip_v1_InventoryReport__Output } from '../../kip/v1/InventoryReport.ts';
import type { InventoryRequest as _kip_v1_InventoryRequest, InventoryRequest__Output as _kip_v1_InventoryRequest__Output } from '../../kip/v1/InventoryRequest.ts';
import type { NodeInfo as _kip_v1_NodeInfo, NodeInfo__Output as _kip_v1_NodeInfo__Output } from '../../kip/v1/NodeInfo.ts';
import type { PreflightReport as _kip_v1_PreflightReport, PreflightReport__Output as _kip_v1_PreflightReport__Output } from '../../kip/v1/PreflightReport.ts';
import type { PreflightRequest as _kip_v1_PreflightRequest, PreflightRequest__Output as _kip_v1_PreflightRequest__Output } from '../../kip/v1/PreflightRequest.ts';
import type { ReleaseRequest as _kip_v1_ReleaseRequest, ReleaseRequest__Output as _kip_v1_ReleaseRequest__Output } from '../../kip/v1/ReleaseRequest.ts';
import type { ReleaseResponse as _kip_v1_ReleaseResponse, ReleaseResponse__Output as _kip_v1_ReleaseResponse__Output } from '../../kip/v1/ReleaseResponse.ts';
import type { RemoveStagedRequest as _kip_v1_RemoveStagedRequest, RemoveStagedRequest__Output as _kip_v1_RemoveStagedRequest__Output } from '../../kip/v1/RemoveStagedRequest.ts';
import type { RemoveStagedResponse as _kip_v1_RemoveStagedResponse, RemoveStagedResponse__Output as _kip_v1_RemoveStagedResponse__Output } from '../../kip/v1/RemoveStagedResponse.ts';
import type { RollbackRequest as _kip_v1_RollbackRequest, RollbackRequest__Output as _kip_v1_RollbackRequest__Output } from '../../kip/v1/RollbackRequest.ts';
import type { RunState as _kip_v1_RunState, RunState__Output as _kip_v1_RunState__Output } from '../../kip/v1/RunState.ts';
import type { SnapshotChunk as _kip_v1_SnapshotChunk, SnapshotChunk__Output as _kip_v1_SnapshotChunk__Output } from '../../kip/v1/SnapshotChunk.ts';
import type { StageBinaryChunk as _kip_v1_StageBinaryChunk, StageBinaryChunk__Output as _kip_v1_StageBinaryChunk__Output } from '../../kip/v1/StageBinaryChunk.ts';
import type { StageBinaryResponse as _kip_v1_StageBinaryResponse, StageBinaryResponse__Output as _kip_v1_StageBinaryResponse__Output } from '../../kip/v1/StageBinaryResponse.ts';
import type { StepEvent as _kip_v1_StepEvent, StepEvent__Output as _kip_v1_StepEvent__Output } from '../../kip/v1/StepEvent.ts';
import type { UpgradeRequest as _kip_v1_UpgradeRequest, UpgradeRequest__Output as _kip_v1_UpgradeRequest__Output } from '../../kip/v1/UpgradeRequest.ts';
import type { WatchEvent as _kip_v1_WatchEvent, WatchEvent__Output as _kip_v1_WatchEvent__Output } from '../../kip/v1/WatchEvent.ts';
import type { WatchRequest as _kip_v1_WatchRequest, WatchRequest__Output as _kip_v1_WatchRequest__Output } from '../../kip/v1/WatchRequest.ts';

export interface AgentClient extends grpc.Client {
  EtcdSnapshot(argument: _kip_v1_EtcdSnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_EtcdSnapshotInfo__Output>): grpc.ClientUnaryCall;
  EtcdSnapshot(argument: _kip_v1_EtcdSnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_EtcdSnapshotInfo__Output>): grpc.ClientUnaryCall;
  EtcdSnapshot(argument: _kip_v1_EtcdSnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_EtcdSnapshotInfo__Output>): grpc.ClientUnaryCall;
  EtcdSnapshot(argument: _kip_v1_EtcdSnapshotRequest, callback: grpc.requestCallback<_kip_v1_EtcdSnapshotInfo__Output>): grpc.ClientUnaryCall;
  etcdSnapshot(argument: _kip_v1_EtcdSnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_EtcdSnapshotInfo__Output>): grpc.ClientUnaryCall;
  etcdSnapshot(argument: _kip_v1_EtcdSnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_EtcdSnapshotInfo__Output>): grpc.ClientUnaryCall;
  etcdSnapshot(argument: _kip_v1_EtcdSnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_EtcdSnapshotInfo__Output>): grpc.ClientUnaryCall;
  etcdSnapshot(argument: _kip_v1_EtcdSnapshotRequest, callback: grpc.requestCallback<_kip_v1_EtcdSnapshotInfo__Output>): grpc.ClientUnaryCall;
  
  FetchSnapshot(argument: _kip_v1_FetchSnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_SnapshotChunk__Output>;
  FetchSnapshot(argument: _kip_v1_FetchSnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_SnapshotChunk__Output>;
  fetchSnapshot(argument: _kip_v1_FetchSnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_SnapshotChunk__Output>;
  fetchSnapshot(argument: _kip_v1_FetchSnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_SnapshotChunk__Output>;
  
  GetNode(argument: _kip_v1_GetNodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetNode(argument: _kip_v1_GetNodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetNode(argument: _kip_v1_GetNodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetNode(argument: _kip_v1_GetNodeRequest, callback: grpc.requestCallback<_kip_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getNode(argument: _kip_v1_GetNodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getNode(argument: _kip_v1_GetNodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getNode(argument: _kip_v1_GetNodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getNode(argument: _kip_v1_GetNodeRequest, callback: grpc.requestCallback<_kip_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  
  GetRun(argument: _kip_v1_GetRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _kip_v1_GetRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _kip_v1_GetRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _kip_v1_GetRunRequest, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  getRun(argument: _kip_v1_GetRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  getRun(argument: _kip_v1_GetRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  getRun(argument: _kip_v1_GetRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  getRun(argument: _kip_v1_GetRunRequest, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  
  HashReport(argument: _kip_v1_HashReportRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HashReportResponse__Output>): grpc.ClientUnaryCall;
  HashReport(argument: _kip_v1_HashReportRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_HashReportResponse__Output>): grpc.ClientUnaryCall;
  HashReport(argument: _kip_v1_HashReportRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HashReportResponse__Output>): grpc.ClientUnaryCall;
  HashReport(argument: _kip_v1_HashReportRequest, callback: grpc.requestCallback<_kip_v1_HashReportResponse__Output>): grpc.ClientUnaryCall;
  hashReport(argument: _kip_v1_HashReportRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HashReportResponse__Output>): grpc.ClientUnaryCall;
  hashReport(argument: _kip_v1_HashReportRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_HashReportResponse__Output>): grpc.ClientUnaryCall;
  hashReport(argument: _kip_v1_HashReportRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HashReportResponse__Output>): grpc.ClientUnaryCall;
  hashReport(argument: _kip_v1_HashReportRequest, callback: grpc.requestCallback<_kip_v1_HashReportResponse__Output>): grpc.ClientUnaryCall;
  
  Heal(argument: _kip_v1_HealRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HealResponse__Output>): grpc.ClientUnaryCall;
  Heal(argument: _kip_v1_HealRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_HealResponse__Output>): grpc.ClientUnaryCall;
  Heal(argument: _kip_v1_HealRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HealResponse__Output>): grpc.ClientUnaryCall;
  Heal(argument: _kip_v1_HealRequest, callback: grpc.requestCallback<_kip_v1_HealResponse__Output>): grpc.ClientUnaryCall;
  heal(argument: _kip_v1_HealRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HealResponse__Output>): grpc.ClientUnaryCall;
  heal(argument: _kip_v1_HealRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_HealResponse__Output>): grpc.ClientUnaryCall;
  heal(argument: _kip_v1_HealRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HealResponse__Output>): grpc.ClientUnaryCall;
  heal(argument: _kip_v1_HealRequest, callback: grpc.requestCallback<_kip_v1_HealResponse__Output>): grpc.ClientUnaryCall;
  
  Hold(argument: _kip_v1_HoldRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HoldState__Output>): grpc.ClientUnaryCall;
  Hold(argument: _kip_v1_HoldRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_HoldState__Output>): grpc.ClientUnaryCall;
  Hold(argument: _kip_v1_HoldRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HoldState__Output>): grpc.ClientUnaryCall;
  Hold(argument: _kip_v1_HoldRequest, callback: grpc.requestCallback<_kip_v1_HoldState__Output>): grpc.ClientUnaryCall;
  hold(argument: _kip_v1_HoldRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HoldState__Output>): grpc.ClientUnaryCall;
  hold(argument: _kip_v1_HoldRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_HoldState__Output>): grpc.ClientUnaryCall;
  hold(argument: _kip_v1_HoldRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_HoldState__Output>): grpc.ClientUnaryCall;
  hold(argument: _kip_v1_HoldRequest, callback: grpc.requestCallback<_kip_v1_HoldState__Output>): grpc.ClientUnaryCall;
  
  Inventory(argument: _kip_v1_InventoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_InventoryReport__Output>): grpc.ClientUnaryCall;
  Inventory(argument: _kip_v1_InventoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_InventoryReport__Output>): grpc.ClientUnaryCall;
  Inventory(argument: _kip_v1_InventoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_InventoryReport__Output>): grpc.ClientUnaryCall;
  Inventory(argument: _kip_v1_InventoryRequest, callback: grpc.requestCallback<_kip_v1_InventoryReport__Output>): grpc.ClientUnaryCall;
  inventory(argument: _kip_v1_InventoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_InventoryReport__Output>): grpc.ClientUnaryCall;
  inventory(argument: _kip_v1_InventoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_InventoryReport__Output>): grpc.ClientUnaryCall;
  inventory(argument: _kip_v1_InventoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_InventoryReport__Output>): grpc.ClientUnaryCall;
  inventory(argument: _kip_v1_InventoryRequest, callback: grpc.requestCallback<_kip_v1_InventoryReport__Output>): grpc.ClientUnaryCall;
  
  Preflight(argument: _kip_v1_PreflightRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  Preflight(argument: _kip_v1_PreflightRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  Preflight(argument: _kip_v1_PreflightRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  Preflight(argument: _kip_v1_PreflightRequest, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  preflight(argument: _kip_v1_PreflightRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  preflight(argument: _kip_v1_PreflightRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  preflight(argument: _kip_v1_PreflightRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  preflight(argument: _kip_v1_PreflightRequest, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  
  Release(argument: _kip_v1_ReleaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  Release(argument: _kip_v1_ReleaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  Release(argument: _kip_v1_ReleaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  Release(argument: _kip_v1_ReleaseRequest, callback: grpc.requestCallback<_kip_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  release(argument: _kip_v1_ReleaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  release(argument: _kip_v1_ReleaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  release(argument: _kip_v1_ReleaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  release(argument: _kip_v1_ReleaseRequest, callback: grpc.requestCallback<_kip_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  
  RemoveStaged(argument: _kip_v1_RemoveStagedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RemoveStagedResponse__Output>): grpc.ClientUnaryCall;
  RemoveStaged(argument: _kip_v1_RemoveStagedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_RemoveStagedResponse__Output>): grpc.ClientUnaryCall;
  RemoveStaged(argument: _kip_v1_RemoveStagedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RemoveStagedResponse__Output>): grpc.ClientUnaryCall;
  RemoveStaged(argument: _kip_v1_RemoveStagedRequest, callback: grpc.requestCallback<_kip_v1_RemoveStagedResponse__Output>): grpc.ClientUnaryCall;
  removeStaged(argument: _kip_v1_RemoveStagedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RemoveStagedResponse__Output>): grpc.ClientUnaryCall;
  removeStaged(argument: _kip_v1_RemoveStagedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_RemoveStagedResponse__Output>): grpc.ClientUnaryCall;
  removeStaged(argument: _kip_v1_RemoveStagedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RemoveStagedResponse__Output>): grpc.ClientUnaryCall;
  removeStaged(argument: _kip_v1_RemoveStagedRequest, callback: grpc.requestCallback<_kip_v1_RemoveStagedResponse__Output>): grpc.ClientUnaryCall;
  
  Rollback(argument: _kip_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _kip_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _kip_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _kip_v1_RollbackRequest, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  rollback(argument: _kip_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  rollback(argument: _kip_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  rollback(argument: _kip_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  rollback(argument: _kip_v1_RollbackRequest, callback: grpc.requestCallback<_kip_v1_RunState__Output>): grpc.ClientUnaryCall;
  
  StageBinary(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_StageBinaryResponse__Output>): grpc.ClientWritableStream<_kip_v1_StageBinaryChunk>;
  StageBinary(metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_StageBinaryResponse__Output>): grpc.ClientWritableStream<_kip_v1_StageBinaryChunk>;
  StageBinary(options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_StageBinaryResponse__Output>): grpc.ClientWritableStream<_kip_v1_StageBinaryChunk>;
  StageBinary(callback: grpc.requestCallback<_kip_v1_StageBinaryResponse__Output>): grpc.ClientWritableStream<_kip_v1_StageBinaryChunk>;
  stageBinary(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_StageBinaryResponse__Output>): grpc.ClientWritableStream<_kip_v1_StageBinaryChunk>;
  stageBinary(metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_StageBinaryResponse__Output>): grpc.ClientWritableStream<_kip_v1_StageBinaryChunk>;
  stageBinary(options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_StageBinaryResponse__Output>): grpc.ClientWritableStream<_kip_v1_StageBinaryChunk>;
  stageBinary(callback: grpc.requestCallback<_kip_v1_StageBinaryResponse__Output>): grpc.ClientWritableStream<_kip_v1_StageBinaryChunk>;
  
  Upgrade(argument: _kip_v1_UpgradeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_StepEvent__Output>;
  Upgrade(argument: _kip_v1_UpgradeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_StepEvent__Output>;
  upgrade(argument: _kip_v1_UpgradeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_StepEvent__Output>;
  upgrade(argument: _kip_v1_UpgradeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_StepEvent__Output>;
  
  Watch(argument: _kip_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_WatchEvent__Output>;
  Watch(argument: _kip_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_WatchEvent__Output>;
  watch(argument: _kip_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_WatchEvent__Output>;
  watch(argument: _kip_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kip_v1_WatchEvent__Output>;
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  EtcdSnapshot: grpc.handleUnaryCall<_kip_v1_EtcdSnapshotRequest__Output, _kip_v1_EtcdSnapshotInfo>;
  
  FetchSnapshot: grpc.handleServerStreamingCall<_kip_v1_FetchSnapshotRequest__Output, _kip_v1_SnapshotChunk>;
  
  GetNode: grpc.handleUnaryCall<_kip_v1_GetNodeRequest__Output, _kip_v1_NodeInfo>;
  
  GetRun: grpc.handleUnaryCall<_kip_v1_GetRunRequest__Output, _kip_v1_RunState>;
  
  HashReport: grpc.handleUnaryCall<_kip_v1_HashReportRequest__Output, _kip_v1_HashReportResponse>;
  
  Heal: grpc.handleUnaryCall<_kip_v1_HealRequest__Output, _kip_v1_HealResponse>;
  
  Hold: grpc.handleUnaryCall<_kip_v1_HoldRequest__Output, _kip_v1_HoldState>;
  
  Inventory: grpc.handleUnaryCall<_kip_v1_InventoryRequest__Output, _kip_v1_InventoryReport>;
  
  Preflight: grpc.handleUnaryCall<_kip_v1_PreflightRequest__Output, _kip_v1_PreflightReport>;
  
  Release: grpc.handleUnaryCall<_kip_v1_ReleaseRequest__Output, _kip_v1_ReleaseResponse>;
  
  RemoveStaged: grpc.handleUnaryCall<_kip_v1_RemoveStagedRequest__Output, _kip_v1_RemoveStagedResponse>;
  
  Rollback: grpc.handleUnaryCall<_kip_v1_RollbackRequest__Output, _kip_v1_RunState>;
  
  StageBinary: grpc.handleClientStreamingCall<_kip_v1_StageBinaryChunk__Output, _kip_v1_StageBinaryResponse>;
  
  Upgrade: grpc.handleServerStreamingCall<_kip_v1_UpgradeRequest__Output, _kip_v1_StepEvent>;
  
  Watch: grpc.handleServerStreamingCall<_kip_v1_WatchRequest__Output, _kip_v1_WatchEvent>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  EtcdSnapshot: MethodDefinition<_kip_v1_EtcdSnapshotRequest, _kip_v1_EtcdSnapshotInfo, _kip_v1_EtcdSnapshotRequest__Output, _kip_v1_EtcdSnapshotInfo__Output>
  FetchSnapshot: MethodDefinition<_kip_v1_FetchSnapshotRequest, _kip_v1_SnapshotChunk, _kip_v1_FetchSnapshotRequest__Output, _kip_v1_SnapshotChunk__Output>
  GetNode: MethodDefinition<_kip_v1_GetNodeRequest, _kip_v1_NodeInfo, _kip_v1_GetNodeRequest__Output, _kip_v1_NodeInfo__Output>
  GetRun: MethodDefinition<_kip_v1_GetRunRequest, _kip_v1_RunState, _kip_v1_GetRunRequest__Output, _kip_v1_RunState__Output>
  HashReport: MethodDefinition<_kip_v1_HashReportRequest, _kip_v1_HashReportResponse, _kip_v1_HashReportRequest__Output, _kip_v1_HashReportResponse__Output>
  Heal: MethodDefinition<_kip_v1_HealRequest, _kip_v1_HealResponse, _kip_v1_HealRequest__Output, _kip_v1_HealResponse__Output>
  Hold: MethodDefinition<_kip_v1_HoldRequest, _kip_v1_HoldState, _kip_v1_HoldRequest__Output, _kip_v1_HoldState__Output>
  Inventory: MethodDefinition<_kip_v1_InventoryRequest, _kip_v1_InventoryReport, _kip_v1_InventoryRequest__Output, _kip_v1_InventoryReport__Output>
  Preflight: MethodDefinition<_kip_v1_PreflightRequest, _kip_v1_PreflightReport, _kip_v1_PreflightRequest__Output, _kip_v1_PreflightReport__Output>
  Release: MethodDefinition<_kip_v1_ReleaseRequest, _kip_v1_ReleaseResponse, _kip_v1_ReleaseRequest__Output, _kip_v1_ReleaseResponse__Output>
  RemoveStaged: MethodDefinition<_kip_v1_RemoveStagedRequest, _kip_v1_RemoveStagedResponse, _kip_v1_RemoveStagedRequest__Output, _kip_v1_RemoveStagedResponse__Output>
  Rollback: MethodDefinition<_kip_v1_RollbackRequest, _kip_v1_RunState, _kip_v1_RollbackRequest__Output, _kip_v1_RunState__Output>
  StageBinary: MethodDefinition<_kip_v1_StageBinaryChunk, _kip_v1_StageBinaryResponse, _kip_v1_StageBinaryChunk__Output, _kip_v1_StageBinaryResponse__Output>
  Upgrade: MethodDefinition<_kip_v1_UpgradeRequest, _kip_v1_StepEvent, _kip_v1_UpgradeRequest__Output, _kip_v1_StepEvent__Output>
  Watch: MethodDefinition<_kip_v1_WatchRequest, _kip_v1_WatchEvent, _kip_v1_WatchRequest__Output, _kip_v1_WatchEvent__Output>
}
