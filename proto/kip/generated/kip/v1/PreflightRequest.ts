// Original file: proto/kip/v1/agent.proto


export interface PreflightRequest {
  'targetVersion'?: (string);
  'allowDroppedFlags'?: (string)[];
  'allowUnpatched'?: (boolean);
  'component'?: (string);
}

export interface PreflightRequest__Output {
  'targetVersion': (string);
  'allowDroppedFlags': (string)[];
  'allowUnpatched': (boolean);
  'component': (string);
}
