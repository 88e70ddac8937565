export { appName, compileCatalog, flowsWorthKeeping, knowsName, type CompiledCatalog } from './compile.js';
export { detect } from './match.js';
