// Original file: proto/kip/v1/agent.proto


export interface InventoryRequest {
}

export interface InventoryRequest__Output {
}
