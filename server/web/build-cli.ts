/** `node build/server/web/build-cli.js`: the dashboard step of `npm run build`. */
import { buildDashboard } from './build.js';

await buildDashboard();
