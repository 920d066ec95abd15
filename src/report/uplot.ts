import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * uPlot (MIT, no dependencies), the one charting library: the live dashboard serves these files
 * from the admin listener, and the HTML report inlines them, so both work without a network.
 */
const require = createRequire(import.meta.url);
export const UPLOT_JS = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
export const UPLOT_CSS = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
