// Original file: proto/kip/v1/agent.proto


export interface HashReportResponse {
  'kubeletVersion'?: (string);
  'selfCheckOk'?: (boolean);
  'selfCheckCode'?: (string);
  'selfCheckMessage'?: (string);
  'predictedRestarts'?: (string)[];
  'consistent'?: (boolean);
  'compared'?: (number);
  'problems'?: (string)[];
}

export interface HashReportResponse__Output {
  'kubeletVersion': (string);
  'selfCheckOk': (boolean);
  'selfCheckCode': (string);
  'selfCheckMessage': (string);
  'predictedRestarts': (string)[];
  'consistent': (boolean);
  'compared': (number);
  'problems': (string)[];
}
