import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentClient as _kip_v1_AgentClient, AgentDefinition as _kip_v1_AgentDefinition } from './kip/v1/Agent.ts';
import type { ApiserverConnections as _kip_v1_ApiserverConnections, ApiserverConnections__Output as _kip_v1_ApiserverConnections__Output } from './kip/v1/ApiserverConnections.ts';
import type { Check as _kip_v1_Check, Check__Output as _kip_v1_Check__Output } from './kip/v1/Check.ts';
import type { ComponentInfo as _kip_v1_ComponentInfo, ComponentInfo__Output as _kip_v1_ComponentInfo__Output } from './kip/v1/ComponentInfo.ts';
import type { DiskState as _kip_v1_DiskState, DiskState__Output as _kip_v1_DiskState__Output } from './kip/v1/DiskState.ts';
import type { EtcdSnapshotInfo as _kip_v1_EtcdSnapshotInfo, EtcdSnapshotInfo__Output as _kip_v1_EtcdSnapshotInfo__Output } from './kip/v1/EtcdSnapshotInfo.ts';
import type { EtcdSnapshotRequest as _kip_v1_EtcdSnapshotRequest, EtcdSnapshotRequest__Output as _kip_v1_EtcdSnapshotRequest__Output } from './kip/v1/EtcdSnapshotRequest.ts';
import type { FetchSnapshotRequest as _kip_v1_FetchSnapshotRequest, FetchSnapshotRequest__Output as _kip_v1_FetchSnapshotRequest__Output } from './kip/v1/FetchSnapshotRequest.ts';
import type { GetNodeRequest as _kip_v1_GetNodeRequest, GetNodeRequest__Output as _kip_v1_GetNodeRequest__Output } from './kip/v1/GetNodeRequest.ts';
import type { GetRunRequest as _kip_v1_GetRunRequest, GetRunRequest__Output as _kip_v1_GetRunRequest__Output } from './kip/v1/GetRunRequest.ts';
import type { HashReportRequest as _kip_v1_HashReportRequest, HashReportRequest__Output as _kip_v1_HashReportRequest__Output } from './kip/v1/HashReportRequest.ts';
import type { HashReportResponse as _kip_v1_HashReportResponse, HashReportResponse__Output as _kip_v1_HashReportResponse__Output } from './kip/v1/HashReportResponse.ts';
import type { HealRequest as _kip_v1_HealRequest, HealRequest__Output as _kip_v1_HealRequest__Output } from './kip/v1/HealRequest.ts';
import type { HealResponse as _kip_v1_HealResponse, HealResponse__Output as _kip_v1_HealResponse__Output } from './kip/v1/HealResponse.ts';
import type { HoldRequest as _kip_v1_HoldRequest, HoldRequest__Output as _kip_v1_HoldRequest__Output } from './kip/v1/HoldRequest.ts';
import type { HoldState as _kip_v1_HoldState, HoldState__Output as _kip_v1_HoldState__Output } from './kip/v1/HoldState.ts';
import type { InventoryContainer as _kip_v1_InventoryContainer, InventoryContainer__Output as _kip_v1_InventoryContainer__Output } from './kip/v1/InventoryContainer.ts';
import type { InventoryReport as _kip_v1_InventoryReport, InventoryReport__Output as _kip_v1_InventoryReport__Output } from './kip/v1/InventoryReport.ts';
import type { InventoryRequest as _kip_v1_InventoryRequest, InventoryRequest__Output as _kip_v1_InventoryRequest__Output } from './kip/v1/InventoryRequest.ts';
import type { KubeletConnectionErrors as _kip_v1_KubeletConnectionErrors, KubeletConnectionErrors__Output as _kip_v1_KubeletConnectionErrors__Output } from './kip/v1/KubeletConnectionErrors.ts';
import type { NodeInfo as _kip_v1_NodeInfo, NodeInfo__Output as _kip_v1_NodeInfo__Output } from './kip/v1/NodeInfo.ts';
import type { PreflightReport as _kip_v1_PreflightReport, PreflightReport__Output as _kip_v1_PreflightReport__Output } from './kip/v1/PreflightReport.ts';
import type { PreflightRequest as _kip_v1_PreflightRequest, PreflightRequest__Output as _kip_v1_PreflightRequest__Output } from './kip/v1/PreflightRequest.ts';
import type { ReleaseRequest as _kip_v1_ReleaseRequest, ReleaseRequest__Output as _kip_v1_ReleaseRequest__Output } from './kip/v1/ReleaseRequest.ts';
import type { ReleaseResponse as _kip_v1_ReleaseResponse, ReleaseResponse__Output as _kip_v1_ReleaseResponse__Output } from './kip/v1/ReleaseResponse.ts';
import type { RemoveStagedRequest as _kip_v1_RemoveStagedRequest, RemoveStagedRequest__Output as _kip_v1_RemoveStagedRequest__Output } from './kip/v1/RemoveStagedRequest.ts';
import type { RemoveStagedResponse as _kip_v1_RemoveStagedResponse, RemoveStagedResponse__Output as _kip_v1_RemoveStagedResponse__Output } from './kip/v1/RemoveStagedResponse.ts';
import type { RollbackRequest as _kip_v1_RollbackRequest, RollbackRequest__Output as _kip_v1_RollbackRequest__Output } from './kip/v1/RollbackRequest.ts';
import type { RunState as _kip_v1_RunState, RunState__Output as _kip_v1_RunState__Output } from './kip/v1/RunState.ts';
import type { SkipFileState as _kip_v1_SkipFileState, SkipFileState__Output as _kip_v1_SkipFileState__Output } from './kip/v1/SkipFileState.ts';
import type { SnapshotChunk as _kip_v1_SnapshotChunk, SnapshotChunk__Output as _kip_v1_SnapshotChunk__Output } from './kip/v1/SnapshotChunk.ts';
import type { StageBinaryChunk as _kip_v1_StageBinaryChunk, StageBinaryChunk__Output as _kip_v1_StageBinaryChunk__Output } from './kip/v1/StageBinaryChunk.ts';
import type { StageBinaryMetadata as _kip_v1_StageBinaryMetadata, StageBinaryMetadata__Output as _kip_v1_StageBinaryMetadata__Output } from './kip/v1/StageBinaryMetadata.ts';
import type { StageBinaryResponse as _kip_v1_StageBinaryResponse, StageBinaryResponse__Output as _kip_v1_StageBinaryResponse__Output } from './kip/v1/StageBinaryResponse.ts';
import type { StagedBinary as _kip_v1_StagedBinary, StagedBinary__Output as _kip_v1_StagedBinary__Output } from './kip/v1/StagedBinary.ts';
import type { StepEvent as _kip_v1_StepEvent, StepEvent__Output as _kip_v1_StepEvent__Output } from './kip/v1/StepEvent.ts';
import type { UnitState as _kip_v1_UnitState, UnitState__Output as _kip_v1_UnitState__Output } from './kip/v1/UnitState.ts';
import type { UpgradeRequest as _kip_v1_UpgradeRequest, UpgradeRequest__Output as _kip_v1_UpgradeRequest__Output } from './kip/v1/UpgradeRequest.ts';
import type { VersionHash as _kip_v1_VersionHash, VersionHash__Output as _kip_v1_VersionHash__Output } from './kip/v1/VersionHash.ts';
import type { WatchEvent as _kip_v1_WatchEvent, WatchEvent__Output as _kip_v1_WatchEvent__Output } from './kip/v1/WatchEvent.ts';
import type { WatchRequest as _kip_v1_WatchRequest, WatchRequest__Output as _kip_v1_WatchRequest__Output } from './kip/v1/WatchRequest.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kip: {
    v1: {
      Agent: SubtypeConstructor<typeof grpc.Client, _kip_v1_AgentClient> & { service: _kip_v1_AgentDefinition }
      ApiserverConnections: MessageTypeDefinition<_kip_v1_ApiserverConnections, _kip_v1_ApiserverConnections__Output>
      Check: MessageTypeDefinition<_kip_v1_Check, _kip_v1_Check__Output>
      CheckStatus: EnumTypeDefinition
      ComponentInfo: MessageTypeDefinition<_kip_v1_ComponentInfo, _kip_v1_ComponentInfo__Output>
      DiskState: MessageTypeDefinition<_kip_v1_DiskState, _kip_v1_DiskState__Output>
      EtcdSnapshotInfo: MessageTypeDefinition<_kip_v1_EtcdSnapshotInfo, _kip_v1_EtcdSnapshotInfo__Output>
      EtcdSnapshotRequest: MessageTypeDefinition<_kip_v1_EtcdSnapshotRequest, _kip_v1_EtcdSnapshotRequest__Output>
      FetchSnapshotRequest: MessageTypeDefinition<_kip_v1_FetchSnapshotRequest, _kip_v1_FetchSnapshotRequest__Output>
      GetNodeRequest: MessageTypeDefinition<_kip_v1_GetNodeRequest, _kip_v1_GetNodeRequest__Output>
      GetRunRequest: MessageTypeDefinition<_kip_v1_GetRunRequest, _kip_v1_GetRunRequest__Output>
      HashReportRequest: MessageTypeDefinition<_kip_v1_HashReportRequest, _kip_v1_HashReportRequest__Output>
      HashReportResponse: MessageTypeDefinition<_kip_v1_HashReportResponse, _kip_v1_HashReportResponse__Output>
      HealMode: EnumTypeDefinition
      HealRequest: MessageTypeDefinition<_kip_v1_HealRequest, _kip_v1_HealRequest__Output>
      HealResponse: MessageTypeDefinition<_kip_v1_HealResponse, _kip_v1_HealResponse__Output>
      HoldRequest: MessageTypeDefinition<_kip_v1_HoldRequest, _kip_v1_HoldRequest__Output>
      HoldState: MessageTypeDefinition<_kip_v1_HoldState, _kip_v1_HoldState__Output>
      InventoryContainer: MessageTypeDefinition<_kip_v1_InventoryContainer, _kip_v1_InventoryContainer__Output>
      InventoryReport: MessageTypeDefinition<_kip_v1_InventoryReport, _kip_v1_InventoryReport__Output>
      InventoryRequest: MessageTypeDefinition<_kip_v1_InventoryRequest, _kip_v1_InventoryRequest__Output>
      KubeletConnectionErrors: MessageTypeDefinition<_kip_v1_KubeletConnectionErrors, _kip_v1_KubeletConnectionErrors__Output>
      NodeInfo: MessageTypeDefinition<_kip_v1_NodeInfo, _kip_v1_NodeInfo__Output>
      PreflightReport: MessageTypeDefinition<_kip_v1_PreflightReport, _kip_v1_PreflightReport__Output>
      PreflightRequest: MessageTypeDefinition<_kip_v1_PreflightRequest, _kip_v1_PreflightRequest__Output>
      ReleaseRequest: MessageTypeDefinition<_kip_v1_ReleaseRequest, _kip_v1_ReleaseRequest__Output>
      ReleaseResponse: MessageTypeDefinition<_kip_v1_ReleaseResponse, _kip_v1_ReleaseResponse__Output>
      RemoveStagedRequest: MessageTypeDefinition<_kip_v1_RemoveStagedRequest, _kip_v1_RemoveStagedRequest__Output>
      RemoveStagedResponse: MessageTypeDefinition<_kip_v1_RemoveStagedResponse, _kip_v1_RemoveStagedResponse__Output>
      RollbackRequest: MessageTypeDefinition<_kip_v1_RollbackRequest, _kip_v1_RollbackRequest__Output>
      RunPhase: EnumTypeDefinition
      RunState: MessageTypeDefinition<_kip_v1_RunState, _kip_v1_RunState__Output>
      SkipFileState: MessageTypeDefinition<_kip_v1_SkipFileState, _kip_v1_SkipFileState__Output>
      SnapshotChunk: MessageTypeDefinition<_kip_v1_SnapshotChunk, _kip_v1_SnapshotChunk__Output>
      StageBinaryChunk: MessageTypeDefinition<_kip_v1_StageBinaryChunk, _kip_v1_StageBinaryChunk__Output>
      StageBinaryMetadata: MessageTypeDefinition<_kip_v1_StageBinaryMetadata, _kip_v1_StageBinaryMetadata__Output>
      StageBinaryResponse: MessageTypeDefinition<_kip_v1_StageBinaryResponse, _kip_v1_StageBinaryResponse__Output>
      StagedBinary: MessageTypeDefinition<_kip_v1_StagedBinary, _kip_v1_StagedBinary__Output>
      Step: EnumTypeDefinition
      StepEvent: MessageTypeDefinition<_kip_v1_StepEvent, _kip_v1_StepEvent__Output>
      StepStatus: EnumTypeDefinition
      UnitState: MessageTypeDefinition<_kip_v1_UnitState, _kip_v1_UnitState__Output>
      UpgradeRequest: MessageTypeDefinition<_kip_v1_UpgradeRequest, _kip_v1_UpgradeRequest__Output>
      VersionHash: MessageTypeDefinition<_kip_v1_VersionHash, _kip_v1_VersionHash__Output>
      WatchEvent: MessageTypeDefinition<_kip_v1_WatchEvent, _kip_v1_WatchEvent__Output>
      WatchEventKind: EnumTypeDefinition
      WatchRequest: MessageTypeDefinition<_kip_v1_WatchRequest, _kip_v1_WatchRequest__Output>
    }
  }
}

