/**
 * How a kip error travels over gRPC (both sides import this): the gRPC status code says what
 * kind of failure it is, and two trailing metadata entries carry the stable kip code and a JSON
 * object of details.
 */
export const ERROR_CODE_KEY = 'kip-error-code';
export const ERROR_DETAILS_KEY = 'kip-error-details';
