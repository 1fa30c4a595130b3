/**
 * Kubernetes Status objects (meta/v1 Status) for failures, with the reasons and codes clients key on
 * (k8s.io/apimachinery/pkg/api/errors: NotFound 404, AlreadyExists 409, Conflict 409, Invalid 422,
 * BadRequest 400, Unauthorized 401, MethodNotAllowed 405, UnsupportedMediaType 415, Gone 410).
 */
import { KipError } from '../../../lib/errors.ts';
import type { JsonObject } from './json.ts';

export class ApiError extends KipError {
  readonly status: number;
  readonly reason: string;
  readonly statusDetails: JsonObject | undefined;

  constructor(status: number, reason: string, message: string, statusDetails?: JsonObject) {
    super(`LAB_API_${reason.toUpperCase()}`, message, { status, reason });
    this.status = status;
    this.reason = reason;
    this.statusDetails = statusDetails;
  }

  toStatus(): JsonObject {
    const s: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.status };
    if (this.statusDetails) s.details = this.statusDetails;
    return s;
  }
}

function details(resource: string, group: string, name: string): JsonObject {
  const d: JsonObject = { name, kind: resource };
  if (group) d.group = group;
  return d;
}

function qualified(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

export const errors = {
  notFound: (resource: string, group: string, name: string) =>
    new ApiError(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, details(resource, group, name)),
  alreadyExists: (resource: string, group: string, name: string) =>
    new ApiError(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, details(resource, group, name)),
  conflict: (resource: string, group: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
    new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ${why}`, details(resource, group, name)),
  invalid: (kind: string, name: string, why: string) =>
    new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${why}`, { name, kind }),
  badRequest: (why: string) => new ApiError(400, 'BadRequest', why),
  unauthorized: () => new ApiError(401, 'Unauthorized', 'Unauthorized'),
  methodNotAllowed: (why = 'the server does not allow this method on the requested resource') => new ApiError(405, 'MethodNotAllowed', why),
  unsupportedMediaType: (type: string) => new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json; got ${type}`),
  gone: (why: string) => new ApiError(410, 'Expired', why),
  pathNotFound: () => new ApiError(404, 'NotFound', 'the server could not find the requested resource'),
};

export function successStatus(code: number, details?: JsonObject): JsonObject {
  const s: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code };
  if (details) s.details = details;
  return s;
}
