// Original file: proto/kip/v1/agent.proto

import type { VersionHash as _kip_v1_VersionHash, VersionHash__Output as _kip_v1_VersionHash__Output } from '../../kip/v1/VersionHash.ts';

export interface InventoryContainer {
  'containerId'?: (string);
  'pod'?: (string);
  'podUid'?: (string);
  'containerName'?: (string);
  'init'?: (boolean);
  'hashLabel'?: (string);
  'matchingVersions'?: (string)[];
  'hashes'?: (_kip_v1_VersionHash)[];
  'problem'?: (string);
  'oldHash'?: (boolean);
  'drift'?: (boolean);
  'driftFields'?: (string)[];
  'driftDetail'?: (string);
  'ownerKind'?: (string);
  'ownerName'?: (string);
}

export interface InventoryContainer__Output {
  'containerId': (string);
  'pod': (string);
  'podUid': (string);
  'containerName': (string);
  'init': (boolean);
  'hashLabel': (string);
  'matchingVersions': (string)[];
  'hashes': (_kip_v1_VersionHash__Output)[];
  'problem': (string);
  'oldHash': (boolean);
  'drift': (boolean);
  'driftFields': (string)[];
  'driftDetail': (string);
  'ownerKind': (string);
  'ownerName': (string);
}
