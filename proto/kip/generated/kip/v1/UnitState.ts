// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface UnitState {
  'name'?: (string);
  'activeState'?: (string);
  'subState'?: (string);
  'mainPid'?: (number);
  'startedAtUnixMs'?: (number | string | Long);
  'privateTmp'?: (boolean);
}

export interface UnitState__Output {
  'name': (string);
  'activeState': (string);
  'subState': (string);
  'mainPid': (number);
  'startedAtUnixMs': (number);
  'privateTmp': (boolean);
}
