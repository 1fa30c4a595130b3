/** Typed gRPC clients to kip-agents (mutual TLS, deadlines, retries of idempotent calls, typed errors). */
export { AgentConnection, CHUNK_BYTES, DEFAULT_DEADLINES, IDEMPOTENT_METHODS, type AgentClientOptions, type NodeInfo, type PreflightReport, type RunState, type StageBinaryResponse, type StepEvent } from './client.ts';
export { AgentCallError, fromGrpcError, type AgentErrorKind } from './errors.ts';
export { kipInterceptor, type InterceptorOptions } from './interceptor.ts';
