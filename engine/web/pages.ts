// The HTML the engine serves for the browser apps: /console (the agent console's shell and
// styles; its code is /console.js), /demo (a demo website and a console side by side) and
// /demo/site (the demo website: one widget script tag). Constant markup only: tokens reach the
// pages in the URL fragment (never sent to a server) and are read by the page's own script.
const CONSOLE_CSS = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
button,select,input,textarea{font:inherit}button{cursor:pointer}
:focus-visible{outline:3px solid #f59e0b;outline-offset:1px}
.primary{background:#1f6feb;color:#fff;border:0;border-radius:6px;padding:7px 16px;font-weight:600}
.signin{max-width:360px;margin:12vh auto;padding:28px;background:#fff;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.08);display:flex;flex-direction:column;gap:10px}
.signin h1{font-size:20px;margin:0 0 8px}.signin input{padding:8px;border:1px solid #cbd2d9;border-radius:6px}
.alert{color:#b42318;margin:0;min-height:1em}
.top{display:flex;align-items:center;gap:10px;padding:8px 14px;background:#102a43;color:#fff}
.top h1{font-size:16px;margin:0 12px 0 0}.top .who{flex:1;color:#d9e2ec}.conn{color:#fcd34d}
.panes{display:flex;height:calc(100vh - 48px)}
.side{width:300px;border-right:1px solid #d9e2ec;background:#fff;overflow-y:auto;padding:8px}
.filters{display:flex;gap:4px;margin-bottom:6px;flex-wrap:wrap}
.filters button{border:1px solid #cbd2d9;background:#fff;border-radius:14px;padding:2px 10px;font-size:13px}
.filters button[aria-pressed=true]{background:#1f6feb;border-color:#1f6feb;color:#fff}
.list{list-style:none;margin:6px 0;padding:0}
.row{display:flex;gap:8px;align-items:center;width:100%;text-align:left;border:0;border-bottom:1px solid #eef2f6;background:none;padding:9px 6px}
.row[aria-current=true]{background:#e6f0ff}.did{font-weight:700}.who{flex:1;color:#486581}.wait{font-size:12px;color:#b54708}
.new{background:#d92d20;color:#fff;border-radius:8px;font-size:11px;padding:0 6px}.unread{background:#1f6feb;color:#fff;border-radius:8px;font-size:11px;padding:0 6px}
.empty{color:#829ab1;padding:10px}.more{border:0;background:none;color:#1f6feb;text-decoration:underline;padding:4px}
.thread{flex:1;display:flex;flex-direction:column;min-width:0}
.thread-body{display:flex;flex-direction:column;height:100%}.thread-body[hidden]{display:none}
.thread-head{padding:10px 16px;background:#fff;border-bottom:1px solid #d9e2ec}
.thread-head h2{margin:0;font-size:17px}.meta{margin:2px 0;color:#486581}.waiting{color:#b54708;font-weight:600}
.actions{display:flex;gap:6px;margin-top:6px;flex-wrap:wrap}.actions button,.actions select{border:1px solid #cbd2d9;background:#fff;border-radius:6px;padding:4px 10px}
.thread .alert{padding:0 16px}
.log{flex:1;overflow-y:auto;padding:12px 16px;display:flex;flex-direction:column;gap:6px}
.msg{max-width:70%;padding:7px 11px;border-radius:10px;background:#fff;border:1px solid #e4e7eb;align-self:flex-start}
.msg .text{white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:plaintext}.msg .from{font-size:11px;color:#829ab1}
.msg.outgoing{align-self:flex-end;background:#e6f0ff;border-color:#c7dcff}.msg.private{background:#fff7e6;border-color:#f3d9a4}
.msg.activity{align-self:center;background:none;border:0;color:#829ab1;font-size:12px}.msg.pending{opacity:.6}
.receipt{align-self:flex-end;font-size:11px;color:#829ab1;margin-top:-4px}
.typing{margin:0;padding:0 16px;min-height:20px;color:#829ab1;font-size:12px}
.composer{border-top:1px solid #d9e2ec;background:#fff;padding:8px 16px;display:flex;flex-direction:column;gap:6px}
.composer textarea{width:100%;border:1px solid #cbd2d9;border-radius:6px;padding:8px;resize:vertical}
.composer .row{border:0;justify-content:space-between;padding:0}
`

export const CONSOLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Parley console</title><style>${CONSOLE_CSS}</style></head>
<body><div id="app"></div><noscript>The console needs JavaScript.</noscript><script src="/console.js" defer></script></body></html>
`

/** The demo website: a plain page with the one widget tag, opened at once. */
export const DEMO_SITE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Acme Shop (demo website)</title>
<style>body{margin:0;font:16px/1.5 Georgia,serif;background:#fffaf3;color:#3d2c1e}header{padding:18px 28px;background:#7c2d12;color:#fff}main{padding:20px 28px;max-width:560px}</style></head>
<body><header><strong>Acme Shop</strong> — a demo website</header>
<main><h1>Hand-made teapots</h1><p>This page is any website: it carries one script tag, and the chat bubble at the bottom right is the Parley widget. Write something, then answer from the console on the right.</p></main>
<script>
  var t = new URLSearchParams(location.hash.slice(1)).get('website_token') || '';
  var s = document.createElement('script');
  s.src = '/widget.js'; s.async = true; s.setAttribute('data-website-token', t);
  window.addEventListener('parley:ready', function () { window.parley.toggle('open') });
  document.body.appendChild(s);
</script></body></html>
`

/** Demo: the website (left) and the console (right); tokens come in the fragment. */
export const DEMO_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley demo</title>
<style>body{margin:0;display:flex;height:100vh;font:14px system-ui,sans-serif}iframe{border:0;height:100%}#site{width:45%;border-right:4px solid #102a43}#console{flex:1}
p{position:fixed;left:8px;bottom:4px;margin:0;color:#888;font-size:12px}</style></head>
<body><iframe id="site" title="Demo website with the chat widget"></iframe><iframe id="console" title="Agent console"></iframe>
<script>
  var q = new URLSearchParams(location.hash.slice(1));
  document.getElementById('site').src = '/demo/site#website_token=' + encodeURIComponent(q.get('website_token') || '');
  document.getElementById('console').src = '/console#token=' + encodeURIComponent(q.get('agent_token') || '');
</script></body></html>
`
