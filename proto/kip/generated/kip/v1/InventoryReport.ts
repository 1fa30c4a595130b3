// Original file: proto/kip/v1/agent.proto

import type { InventoryContainer as _kip_v1_InventoryContainer, InventoryContainer__Output as _kip_v1_InventoryContainer__Output } from '../../kip/v1/InventoryContainer.ts';

export interface InventoryReport {
  'kubeletVersion'?: (string);
  'runtime'?: (string);
  'containers'?: (_kip_v1_InventoryContainer)[];
  'skipFileVersion'?: (string);
  'acceptedVersions'?: (string)[];
}

export interface InventoryReport__Output {
  'kubeletVersion': (string);
  'runtime': (string);
  'containers': (_kip_v1_InventoryContainer__Output)[];
  'skipFileVersion': (string);
  'acceptedVersions': (string)[];
}
