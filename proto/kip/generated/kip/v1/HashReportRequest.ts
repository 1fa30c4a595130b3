// Original file: proto/kip/v1/agent.proto


export interface HashReportRequest {
  'targetVersion'?: (string);
}

export interface HashReportRequest__Output {
  'targetVersion': (string);
}
