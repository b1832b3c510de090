import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  type: string;
  body: Buffer;
}

const require = createRequire(import.meta.url);
const PUBLIC = fileURLToPath(new URL('../public/', import.meta.url));
const distOf = (name: string) => dirname(require.resolve(name));

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * Every file the console serves, read once at start from the package and from node_modules (no
 * build step, no CDN). A fixed table, not a folder: no path a request names reaches the disk.
 */
function load(): Map<string, Asset> {
  const files: Array<[string, string, string]> = [
    ['/app.js', join(PUBLIC, 'app.js'), JS],
    ['/views.js', join(PUBLIC, 'views.js'), JS],
    ['/api.js', join(PUBLIC, 'api.js'), JS],
    ['/style.css', join(PUBLIC, 'style.css'), CSS],
    ['/vendor/preact.js', join(distOf('preact'), 'preact.module.js'), JS],
    ['/vendor/hooks.js', join(distOf('preact/hooks'), 'hooks.module.js'), JS],
    ['/vendor/htm.js', join(distOf('htm'), 'htm.module.js'), JS],
    ['/vendor/uplot.js', join(distOf('uplot'), 'uPlot.esm.js'), JS],
    ['/vendor/uplot.css', join(distOf('uplot'), 'uPlot.min.css'), CSS],
  ];
  return new Map(files.map(([path, file, type]) => [path, { type, body: readFileSync(file) }]));
}

export const ASSETS = load();

/** The import map lets the page's modules name `preact` and `htm` as bare specifiers. */
const IMPORT_MAP = JSON.stringify({
  imports: { preact: '/vendor/preact.js', 'preact/hooks': '/vendor/hooks.js', htm: '/vendor/htm.js', uplot: '/vendor/uplot.js' },
});

const PLACEHOLDER = '{ "imports": {} }';
const page = readFileSync(join(PUBLIC, 'index.html'), 'utf8');
if (!page.includes(PLACEHOLDER)) throw new Error('index.html lost its import map placeholder');
export const INDEX_HTML = page.replace(PLACEHOLDER, IMPORT_MAP);

/** The one inline script (the import map) is allowed by its hash; nothing else inline runs. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
