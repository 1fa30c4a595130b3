// Original file: proto/kip/v1/agent.proto


export interface UpgradeRequest {
  'runId'?: (string);
  'targetVersion'?: (string);
  'verifyTimeoutMs'?: (number);
  'allowDroppedFlags'?: (string)[];
  'allowUnpatched'?: (boolean);
  'component'?: (string);
  'keepServedApis'?: (string)[];
}

export interface UpgradeRequest__Output {
  'runId': (string);
  'targetVersion': (string);
  'verifyTimeoutMs': (number);
  'allowDroppedFlags': (string)[];
  'allowUnpatched': (boolean);
  'component': (string);
  'keepServedApis': (string)[];
}
