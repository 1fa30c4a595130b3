/**
 * The size of one StageBinary message, and of the coordinator's reads of the binary. Its own
 * module, free of grpc-js, so the stage logic (imported by `kip upgrade` before its options are
 * parsed) can read it without loading the gRPC client.
 */
export const CHUNK_BYTES = 1 << 20;
