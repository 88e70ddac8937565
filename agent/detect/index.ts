export { appName, compileCatalog, knowsName, type CompiledCatalog } from './compile.js';
export { detect } from './match.js';
