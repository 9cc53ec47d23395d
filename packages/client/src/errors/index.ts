export { ERROR_CODES, isErrorCode, type ErrorCode } from './codes';
export { RevmodError, isRevmodError, toRevmodError } from './revmod-error';
