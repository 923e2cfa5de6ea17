// The widget's stylesheet, inside its shadow root. The host element resets everything the page
// could impose (`all: initial !important` in :host wins over the page's own !important rules), and
// every size is in px, never rem/em of the page, so huge page fonts change nothing here.
export const CSS = `
:host{all:initial!important;position:fixed!important;right:20px!important;bottom:20px!important;z-index:2147483647!important;display:block!important;
font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif!important;color:#1f2933!important;direction:ltr!important;width:auto!important;height:auto!important;visibility:visible!important;opacity:1!important;transform:none!important;contain:layout style}
*{box-sizing:border-box;font:inherit;margin:0;padding:0}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button{cursor:pointer;border:0;background:none;color:inherit}
button:focus-visible,textarea:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.launcher{position:relative;display:flex;align-items:center;justify-content:center;width:56px;height:56px;border-radius:50%;background:#1f6feb;color:#fff;box-shadow:0 4px 16px rgba(0,0,0,.25);margin-left:auto}
.launcher svg{width:28px;height:28px;fill:#fff}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#d92d20;color:#fff;font-size:12px;line-height:20px;text-align:center;font-weight:600}
.badge[hidden],[hidden]{display:none!important}
.panel{display:flex;flex-direction:column;width:360px;max-width:calc(100vw - 40px);height:520px;max-height:calc(100vh - 110px);margin-bottom:12px;background:#fff;border-radius:12px;box-shadow:0 8px 32px rgba(0,0,0,.25);overflow:hidden}
.head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:#1f6feb;color:#fff}
.head h2{font-size:16px;font-weight:600;flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.status{font-size:12px;opacity:.9}
.status .dot{display:inline-block;width:8px;height:8px;border-radius:50%;background:#9ca3af;margin-right:5px}
.status.on .dot{background:#34d399}
.close{width:32px;height:32px;border-radius:6px;font-size:20px;line-height:32px;color:#fff}
.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:6px;background:#f7f8fa}
.more{align-self:center;font-size:12px;color:#1f6feb;padding:4px 8px;text-decoration:underline}
.msg{max-width:80%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;unicode-bidi:plaintext}
.msg.in{align-self:flex-end;background:#1f6feb;color:#fff;border-bottom-right-radius:4px}
.msg.out{align-self:flex-start;background:#fff;border:1px solid #e4e7eb;border-bottom-left-radius:4px}
.msg.act{align-self:center;background:none;color:#616e7c;font-size:12px;text-align:center;max-width:100%}
.msg.pending{opacity:.6}
.meta{font-size:11px;color:#616e7c;align-self:flex-end;margin-top:-3px}
.typing{font-size:12px;color:#616e7c;padding:0 14px;min-height:18px;background:#f7f8fa}
.note{padding:8px 14px;font-size:13px;background:#fff7e6;color:#7a4a00;border-top:1px solid #f3d9a4}
.err{padding:10px 14px;font-size:13px;background:#fdecea;color:#8a1c12}
.csat{padding:12px 14px;border-top:1px solid #e4e7eb;display:flex;flex-direction:column;gap:8px}
.stars{display:flex;gap:6px}
.stars button{width:40px;height:36px;border:1px solid #cbd2d9;border-radius:8px;font-size:15px;font-weight:600}
.stars button[aria-pressed=true]{background:#1f6feb;color:#fff;border-color:#1f6feb}
.csat textarea{border:1px solid #cbd2d9;border-radius:8px;padding:6px 8px;min-height:44px;resize:vertical}
.primary{align-self:flex-start;background:#1f6feb;color:#fff;border-radius:8px;padding:7px 14px;font-weight:600}
.primary:disabled{opacity:.5;cursor:default}
.composer{display:flex;gap:8px;align-items:flex-end;padding:10px;border-top:1px solid #e4e7eb;background:#fff}
.composer textarea{flex:1;resize:none;border:1px solid #cbd2d9;border-radius:8px;padding:8px 10px;max-height:120px;min-height:38px;height:38px;color:#1f2933;background:#fff}
.send{background:#1f6feb;color:#fff;border-radius:8px;padding:0 14px;height:38px;font-weight:600}
`
