import { InvalidInputError, KipError } from '../../errors.ts';

/** The input is not JSON; `offset`, `line` and `column` say where. */
export class MalformedJsonError extends InvalidInputError {
  constructor(message: string, readonly offset: number, readonly line: number, readonly column: number, source?: string) {
    super('HASH_MALFORMED_JSON', `${source ? `${source}: ` : ''}malformed JSON at line ${line}, column ${column}: ${message}`, { offset, line, column });
  }
}

/** A value the kubelet's Go decoder would refuse (wrong JSON type, integer out of range, bad quantity). */
export class ContainerDecodeError extends InvalidInputError {
  constructor(readonly path: string, readonly problem: string) {
    super('HASH_DECODE_FAILED', `${path || '<root>'}: ${problem}`, { path, problem });
  }
}

export class UnsupportedKubeVersionError extends InvalidInputError {
  constructor(version: string, supported: readonly string[]) {
    super('HASH_UNSUPPORTED_VERSION', `unsupported Kubernetes version "${version}": kip knows the container hash of ${supported.join(', ')} (give a minor version such as 1.17, or a full one such as v1.17.17)`, { version, supported });
  }
}

/** The input is valid JSON but not a container, container list, Pod or PodList. */
export class UnrecognizedInputError extends InvalidInputError {
  constructor(message: string) {
    super('HASH_UNRECOGNIZED_INPUT', message);
  }
}

/** A schema file is inconsistent: a bug in kip, never the user's input. */
export class SchemaError extends KipError {
  constructor(message: string) {
    super('HASH_SCHEMA_INVALID', message);
  }
}
