export { compileCatalog, type CompiledCatalog } from './compile.js';
export { detect } from './match.js';
