// Original file: proto/kip/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetNodeRequest as _kip_v1_GetNodeRequest, GetNodeRequest__Output as _kip_v1_GetNodeRequest__Output } from '../../kip/v1/GetNodeRequest.ts';
import type { GetRunRequest as _kip_v1_GetRunRequest, GetRunRequest__Output as _kip_v1_GetRunRequest__Output } from '../../kip/v1/GetRunRequest.ts';
import type { NodeInfo as _kip_v1_NodeInfo, NodeInfo__Output as _kip_v1_NodeInfo__Output } from '../../kip/v1/NodeInfo.ts';
import type { PreflightReport as _kip_v1_PreflightReport, PreflightReport__Output as _kip_v1_PreflightReport__Output } from '../../kip/v1/PreflightReport.ts';
import type { PreflightRequest as _kip_v1_PreflightRequest, PreflightRequest__Output as _kip_v1_PreflightRequest__Output } from '../../kip/v1/PreflightRequest.ts';
import type { RemoveStagedRequest as _kip_v1_RemoveStagedRequest, RemoveStagedRequest__Output as _kip_v1_RemoveStagedRequest__Output } from '../../kip/v1/RemoveStagedRequest.ts';
import type { RemoveStagedResponse as _kip_v1_RemoveStagedResponse, RemoveStagedResponse__Output as _kip_v1_RemoveStagedResponse__Output } from '../../kip/v1/RemoveStagedResponse.ts';
import type { RollbackRequest as _kip_v1_RollbackRequest, RollbackRequest__Output as _kip_v1_RollbackRequest__Output } from '../../kip/v1/RollbackRequest.ts';
import type { RunState as _kip_v1_RunState, RunState__Output as _kip_v1_RunState__Output } from '../../kip/v1/RunState.ts';
import type { StageBinaryChunk as _kip_v1_StageBinaryChunk, StageBinaryChunk__Output as _kip_v1_StageBinaryChunk__Output } from '../../kip/v1/StageBinaryChunk.ts';
import type { StageBinaryResponse as _kip_v1_StageBinaryResponse, StageBinaryResponse__Output as _kip_v1_StageBinaryResponse__Output } from '../../kip/v1/StageBinaryResponse.ts';
import type { StepEvent as _kip_v1_StepEvent, StepEvent__Output as _kip_v1_StepEvent__Output } from '../../kip/v1/StepEvent.ts';
import type { UpgradeRequest as _kip_v1_UpgradeRequest, UpgradeRequest__Output as _kip_v1_UpgradeRequest__Output } from '../../kip/v1/UpgradeRequest.ts';

export interface AgentClient extends grpc.Client {
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
  
  Preflight(argument: _kip_v1_PreflightRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  Preflight(argument: _kip_v1_PreflightRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  Preflight(argument: _kip_v1_PreflightRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  Preflight(argument: _kip_v1_PreflightRequest, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  preflight(argument: _kip_v1_PreflightRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  preflight(argument: _kip_v1_PreflightRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  preflight(argument: _kip_v1_PreflightRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  preflight(argument: _kip_v1_PreflightRequest, callback: grpc.requestCallback<_kip_v1_PreflightReport__Output>): grpc.ClientUnaryCall;
  
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
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  GetNode: grpc.handleUnaryCall<_kip_v1_GetNodeRequest__Output, _kip_v1_NodeInfo>;
  
  GetRun: grpc.handleUnaryCall<_kip_v1_GetRunRequest__Output, _kip_v1_RunState>;
  
  Preflight: grpc.handleUnaryCall<_kip_v1_PreflightRequest__Output, _kip_v1_PreflightReport>;
  
  RemoveStaged: grpc.handleUnaryCall<_kip_v1_RemoveStagedRequest__Output, _kip_v1_RemoveStagedResponse>;
  
  Rollback: grpc.handleUnaryCall<_kip_v1_RollbackRequest__Output, _kip_v1_RunState>;
  
  StageBinary: grpc.handleClientStreamingCall<_kip_v1_StageBinaryChunk__Output, _kip_v1_StageBinaryResponse>;
  
  Upgrade: grpc.handleServerStreamingCall<_kip_v1_UpgradeRequest__Output, _kip_v1_StepEvent>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  GetNode: MethodDefinition<_kip_v1_GetNodeRequest, _kip_v1_NodeInfo, _kip_v1_GetNodeRequest__Output, _kip_v1_NodeInfo__Output>
  GetRun: MethodDefinition<_kip_v1_GetRunRequest, _kip_v1_RunState, _kip_v1_GetRunRequest__Output, _kip_v1_RunState__Output>
  Preflight: MethodDefinition<_kip_v1_PreflightRequest, _kip_v1_PreflightReport, _kip_v1_PreflightRequest__Output, _kip_v1_PreflightReport__Output>
  RemoveStaged: MethodDefinition<_kip_v1_RemoveStagedRequest, _kip_v1_RemoveStagedResponse, _kip_v1_RemoveStagedRequest__Output, _kip_v1_RemoveStagedResponse__Output>
  Rollback: MethodDefinition<_kip_v1_RollbackRequest, _kip_v1_RunState, _kip_v1_RollbackRequest__Output, _kip_v1_RunState__Output>
  StageBinary: MethodDefinition<_kip_v1_StageBinaryChunk, _kip_v1_StageBinaryResponse, _kip_v1_StageBinaryChunk__Output, _kip_v1_StageBinaryResponse__Output>
  Upgrade: MethodDefinition<_kip_v1_UpgradeRequest, _kip_v1_StepEvent, _kip_v1_UpgradeRequest__Output, _kip_v1_StepEvent__Output>
}
