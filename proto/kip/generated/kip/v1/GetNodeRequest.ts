// Original file: proto/kip/v1/agent.proto


export interface GetNodeRequest {
}

export interface GetNodeRequest__Output {
}
