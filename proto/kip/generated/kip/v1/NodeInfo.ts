// Original file: proto/kip/v1/agent.proto

import type { UnitState as _kip_v1_UnitState, UnitState__Output as _kip_v1_UnitState__Output } from '../../kip/v1/UnitState.ts';
import type { SkipFileState as _kip_v1_SkipFileState, SkipFileState__Output as _kip_v1_SkipFileState__Output } from '../../kip/v1/SkipFileState.ts';
import type { DiskState as _kip_v1_DiskState, DiskState__Output as _kip_v1_DiskState__Output } from '../../kip/v1/DiskState.ts';
import type { StagedBinary as _kip_v1_StagedBinary, StagedBinary__Output as _kip_v1_StagedBinary__Output } from '../../kip/v1/StagedBinary.ts';
import type { RunPhase as _kip_v1_RunPhase, RunPhase__Output as _kip_v1_RunPhase__Output } from '../../kip/v1/RunPhase.ts';
import type { ComponentInfo as _kip_v1_ComponentInfo, ComponentInfo__Output as _kip_v1_ComponentInfo__Output } from '../../kip/v1/ComponentInfo.ts';
import type { EtcdSnapshotInfo as _kip_v1_EtcdSnapshotInfo, EtcdSnapshotInfo__Output as _kip_v1_EtcdSnapshotInfo__Output } from '../../kip/v1/EtcdSnapshotInfo.ts';
import type { ApiserverConnections as _kip_v1_ApiserverConnections, ApiserverConnections__Output as _kip_v1_ApiserverConnections__Output } from '../../kip/v1/ApiserverConnections.ts';
import type { KubeletConnectionErrors as _kip_v1_KubeletConnectionErrors, KubeletConnectionErrors__Output as _kip_v1_KubeletConnectionErrors__Output } from '../../kip/v1/KubeletConnectionErrors.ts';
import type { Long } from '@grpc/proto-loader';

export interface NodeInfo {
  'nodeName'?: (string);
  'agentVersion'?: (string);
  'kubeletBinary'?: (string);
  'kubeletVersion'?: (string);
  'kubeletSha256'?: (string);
  'kubeletPatched'?: (boolean);
  'unit'?: (_kip_v1_UnitState | null);
  'skipFile'?: (_kip_v1_SkipFileState | null);
  'disks'?: (_kip_v1_DiskState)[];
  'staged'?: (_kip_v1_StagedBinary)[];
  'lastRunId'?: (string);
  'lastRunPhase'?: (_kip_v1_RunPhase);
  'components'?: (_kip_v1_ComponentInfo)[];
  'etcdSnapshots'?: (_kip_v1_EtcdSnapshotInfo)[];
  'componentsError'?: (string);
  'tlsCertNotAfterUnixMs'?: (number | string | Long);
  'apiserverConnections'?: (_kip_v1_ApiserverConnections)[];
  'connectionErrors'?: (_kip_v1_KubeletConnectionErrors | null);
}

export interface NodeInfo__Output {
  'nodeName': (string);
  'agentVersion': (string);
  'kubeletBinary': (string);
  'kubeletVersion': (string);
  'kubeletSha256': (string);
  'kubeletPatched': (boolean);
  'unit': (_kip_v1_UnitState__Output | null);
  'skipFile': (_kip_v1_SkipFileState__Output | null);
  'disks': (_kip_v1_DiskState__Output)[];
  'staged': (_kip_v1_StagedBinary__Output)[];
  'lastRunId': (string);
  'lastRunPhase': (_kip_v1_RunPhase__Output);
  'components': (_kip_v1_ComponentInfo__Output)[];
  'etcdSnapshots': (_kip_v1_EtcdSnapshotInfo__Output)[];
  'componentsError': (string);
  'tlsCertNotAfterUnixMs': (number);
  'apiserverConnections': (_kip_v1_ApiserverConnections__Output)[];
  'connectionErrors': (_kip_v1_KubeletConnectionErrors__Output | null);
}
