/**
 * The interactive API page at /docs: RapiDoc's web component over GET /api/openapi.json, served from this server
 * (no CDN, no web fonts). No inline script: the colours are set by /docs/theme.js, so a Content-Security-Policy of
 * `script-src 'self'` would not break the page.
 */

/** RapiDoc's colour attributes, from the dashboard's palette (web/src/styles.css), one set per colour scheme. */
const THEMES = {
  light: {
    theme: 'light', 'bg-color': '#ffffff', 'text-color': '#1b1f24', 'header-color': '#f5f6f8', 'primary-color': '#2f6fd0',
    'nav-bg-color': '#f5f6f8', 'nav-text-color': '#1b1f24', 'nav-hover-bg-color': '#e7eaef', 'nav-hover-text-color': '#1b1f24', 'nav-accent-color': '#2f6fd0',
  },
  dark: {
    theme: 'dark', 'bg-color': '#111418', 'text-color': '#e6e9ee', 'header-color': '#1a1e24', 'primary-color': '#5b9cf2',
    'nav-bg-color': '#1a1e24', 'nav-text-color': '#e6e9ee', 'nav-hover-bg-color': '#2a3039', 'nav-hover-text-color': '#e6e9ee', 'nav-accent-color': '#5b9cf2',
  },
} as const;

/** /docs/theme.js: RapiDoc takes its colours as attributes, so a script follows the system's scheme, as the dashboard does. */
export const THEME_SCRIPT = `const themes = ${JSON.stringify(THEMES)};
const doc = document.querySelector('rapi-doc');
const dark = window.matchMedia('(prefers-color-scheme: dark)');
const apply = () => {
  for (const [name, value] of Object.entries(themes[dark.matches ? 'dark' : 'light'])) doc.setAttribute(name, value);
};
apply();
dark.addEventListener('change', apply);
`;

const FONT_UI = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
const FONT_MONO = "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace";
const ICON = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%232f7de1'/%3E%3Cpath d='M3 12h2V7H3zm4 0h2V4H7zm4 0h2V9h-2z' fill='white'/%3E%3C/svg%3E";

export interface DocsPageOptions {
  /** the server asks for a token (the page then says how to give it) */
  auth: boolean;
  /** RapiDoc's version: part of the script's URL, so that an upgrade is not hidden by the long cache of the old one */
  rapidocVersion: string;
}

function authNote(auth: boolean): string {
  if (!auth) return 'This server asks for no token.';
  return 'The document and the calls you try need the API token (in <code>&lt;data-dir&gt;/token</code>): open '
    + '<code>/docs?token=&lt;token&gt;</code> once, or sign in to the dashboard, and the browser keeps it as a cookie. '
    + 'A token pasted under <em>Authentication</em> (the admin token, say) is sent as <code>Authorization: Bearer</code> instead.';
}

export function docsPage(o: DocsPageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="${ICON}">
<title>Arbiter API</title>
<style>
  :root { color-scheme: light dark; --bg: #f5f6f8; --border: #dde1e7; --text: #1b1f24; --muted: #5d6672; --accent: #2f6fd0; }
  @media (prefers-color-scheme: dark) { :root { --bg: #1a1e24; --border: #2a3039; --text: #e6e9ee; --muted: #9aa4b1; --accent: #5b9cf2; } }
  html, body { height: 100%; margin: 0; }
  body { display: flex; flex-direction: column; font: 14px/1.45 ${FONT_UI}; background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; padding: 8px 16px; border-bottom: 1px solid var(--border); }
  header strong { font-size: 15px; }
  header a { color: var(--accent); }
  header p { margin: 0; color: var(--muted); flex: 1 1 420px; }
  code { font-family: ${FONT_MONO}; font-size: 0.95em; }
  rapi-doc { flex: 1; min-height: 0; }
</style>
<script type="module" src="/docs/theme.js"></script>
<script type="module" src="/docs/rapidoc-min.js?v=${encodeURIComponent(o.rapidocVersion)}"></script>
</head>
<body>
<header>
  <strong>Arbiter API</strong>
  <a href="/">Dashboard</a>
  <a href="/api/openapi.json">OpenAPI document</a>
  <p data-testid="docs-auth">${authNote(o.auth)}</p>
</header>
<rapi-doc
  spec-url="/api/openapi.json"
  render-style="view"
  show-header="false"
  allow-authentication="true"
  allow-spec-url-load="false"
  allow-spec-file-load="false"
  fetch-credentials="same-origin"
  schema-style="table"
  load-fonts="false"
  regular-font="${FONT_UI}"
  mono-font="${FONT_MONO}"
></rapi-doc>
<noscript>The API page needs JavaScript; the document itself is <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
</body>
</html>
`;
}
