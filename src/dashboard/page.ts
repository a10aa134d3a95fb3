/**
 * The page and its style, built into hoist (nothing is fetched from anywhere else); the script
 * is in client.ts. The HTML holds no inline script or handler: the Content-Security-Policy
 * (guard.ts) allows neither.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hoist dashboard</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/dashboard.js" defer></script>
</head>
<body>
<header class="top">
<a class="brand" href="#/">hoist</a>
<span id="source" class="source"></span>
<span id="status" class="status">connecting&hellip;</span>
</header>
<div id="banner" class="banner" hidden></div>
<main id="main"><p class="muted">loading&hellip;</p></main>
<noscript><p>This page needs JavaScript: it runs only the script built into hoist.</p></noscript>
</body>
</html>
`;

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f3a5f"/><path d="M4 12V4h2v3h4V4h2v8h-2V9H6v3z" fill="#fff"/></svg>
`;

export const STYLE_CSS = `
:root { --bg: #f5f6f8; --card: #fff; --ink: #1c2330; --muted: #667085; --line: #e3e6eb;
  --ok: #1e7f4f; --ok-bg: #e3f4ea; --bad: #b42318; --bad-bg: #fdecea; --busy: #175cd3; --busy-bg: #e7efff;
  --wait: #8a5a00; --wait-bg: #fff4d6; --idle: #667085; --idle-bg: #eef0f3; --unknown: #6b3fa0; --unknown-bg: #f1eafa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--busy); text-decoration: none; }
a:hover { text-decoration: underline; }
.top { display: flex; gap: 16px; align-items: baseline; padding: 10px 20px; background: #1f3a5f; color: #fff; }
.top a.brand { color: #fff; font-weight: 700; font-size: 17px; letter-spacing: .5px; }
.top .source { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; opacity: .9; }
.top .status { margin-left: auto; font-size: 12px; opacity: .9; }
.banner { margin: 12px 20px 0; padding: 8px 12px; border-radius: 6px; background: var(--bad-bg); color: var(--bad); border: 1px solid #f5c2bd; }
main { padding: 16px 20px 40px; }
h1 { font-size: 20px; margin: 0 0 12px; }
h2 { font-size: 15px; margin: 22px 0 8px; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
.card > table { border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .4px; color: var(--muted); background: #fafbfc; white-space: nowrap; }
th button { all: unset; cursor: pointer; }
th button:focus-visible { outline: 2px solid var(--busy); }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
tr:last-child td { border-bottom: 0; }
tr.red td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
tr.red { background: #fff8f7; }
.chips { display: flex; flex-wrap: wrap; gap: 4px; }
.chip { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; white-space: nowrap; border: 1px solid transparent; }
a.chip:hover { text-decoration: none; border-color: currentColor; }
.chip .n { font-weight: 700; }
.tone-ok { color: var(--ok); background: var(--ok-bg); }
.tone-bad { color: var(--bad); background: var(--bad-bg); }
.tone-busy { color: var(--busy); background: var(--busy-bg); }
.tone-wait { color: var(--wait); background: var(--wait-bg); }
.tone-idle { color: var(--idle); background: var(--idle-bg); }
.tone-unknown { color: var(--unknown); background: var(--unknown-bg); }
.mark { display: inline-block; margin: 0 4px 4px 0; padding: 1px 8px; border-radius: 4px; font-size: 12px; font-weight: 600; color: #fff; background: var(--bad); }
.trust-verified { color: var(--ok); }
.trust-unverified { color: var(--wait); }
.trust-rejected, .trust-unreadable, .trust-invalid, .trust-unknown-key, .trust-mismatch { color: var(--bad); font-weight: 600; }
.warn { color: var(--bad); font-size: 12px; }
.bar { display: flex; height: 12px; width: 220px; border-radius: 6px; overflow: hidden; background: var(--idle-bg); border: 1px solid var(--line); }
.seg { position: relative; height: 100%; border-right: 1px solid #fff; background: #dfe3e8; }
.seg.due { background: #cfe0f7; }
.seg .fill { position: absolute; left: 0; top: 0; bottom: 0; background: var(--ok); }
.seg .fail { position: absolute; right: 0; top: 0; bottom: 0; background: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
.grid .card { padding: 12px 14px; }
.card > h2:first-child { margin-top: 0; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
.toolbar { display: flex; gap: 10px; align-items: center; margin: 8px 0; flex-wrap: wrap; }
select, input[type=search] { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
td.err { max-width: 460px; overflow-wrap: anywhere; }
td.host { overflow-wrap: anywhere; max-width: 280px; }
.current { font-weight: 700; }
`;
