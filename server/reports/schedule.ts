/**
 * What a new report schedule may be: checked once, for the CLI and the API alike. The schema
 * lives in shared/api-types.ts so the OpenAPI document describes the body the server checks.
 */
export { NewReport } from '../../shared/api-types.js';
