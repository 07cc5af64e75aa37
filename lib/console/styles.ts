/** The console's stylesheet, served as /static/console.css (system fonts only: nothing to fetch). */
export const CONSOLE_CSS = `:root {
  --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --panel: #f6f8fa;
  --accent: #0b57d0; --ok: #1a7f37; --warn: #9a6700; --err: #c62828; --idle: #6e7781;
  color-scheme: light;
}
* { box-sizing: border-box; }
body {
  margin: 0; color: var(--fg); background: var(--bg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif;
}
a { color: var(--accent); }
a:focus-visible, button:focus-visible, select:focus-visible, textarea:focus-visible, input:focus-visible {
  outline: 3px solid #f59e0b; outline-offset: 1px;
}
header.top {
  display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem;
  background: #0d1117; color: #f0f6fc;
}
header.top a { color: #f0f6fc; text-decoration: none; }
header.top a[aria-current="page"] { text-decoration: underline; text-underline-offset: 4px; }
header.top .brand { font-weight: 700; letter-spacing: .02em; }
header.top .who { margin-left: auto; color: #c9d1d9; display: flex; gap: .6rem; align-items: center; }
header.top form { margin: 0; }
main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
.toolbar { display: flex; flex-wrap: wrap; gap: .8rem; align-items: end; margin-bottom: .8rem; }
.toolbar label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); gap: .15rem; }
.toolbar .spacer { flex: 1; }
select, input[type=text], input[type=password], textarea {
  font: inherit; padding: .3rem .4rem; border: 1px solid var(--line); border-radius: 4px; background: #fff;
}
textarea { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 13px; width: 100%; }
button, .button {
  font: inherit; padding: .35rem .8rem; border-radius: 4px; border: 1px solid var(--line);
  background: var(--panel); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block;
}
button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--err); border-color: var(--err); color: #fff; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; color: var(--muted); font-weight: 600; background: var(--panel); }
td.flow, th { white-space: nowrap; }
td.message { color: var(--muted); max-width: 42rem; overflow-wrap: anywhere; }
tr.changed { animation: changed 1.6s ease-out; }
@keyframes changed { from { background: #fff3bf; } to { background: transparent; } }
.phase {
  display: inline-block; min-width: 5.2rem; text-align: center; padding: .05rem .5rem; border-radius: 999px;
  font-size: .8rem; font-weight: 600; color: #fff; background: var(--idle);
}
.phase-running { background: var(--ok); }
.phase-pending { background: var(--warn); }
.phase-error { background: var(--err); }
.phase-stopped { background: var(--idle); }
.type-warning { color: var(--err); font-weight: 600; }
.live { font-size: .8rem; color: var(--muted); }
.live::before { content: "\\25CF "; color: var(--idle); }
.live[data-state="live"]::before { color: var(--ok); }
.live[data-state="reconnecting"]::before { color: var(--err); }
pre {
  background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: .6rem .8rem;
  overflow: auto; font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; max-height: 32rem;
  white-space: pre-wrap; overflow-wrap: anywhere;
}
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 0 2rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: .8rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; background: var(--panel); }
.card .value { font-size: 1.5rem; font-weight: 700; }
.card .label { font-size: .8rem; color: var(--muted); }
.banner { padding: .6rem .8rem; border-radius: 4px; margin: .6rem 0; border: 1px solid; }
.banner.error { background: #ffebe9; border-color: #ff8182; }
.banner.info { background: #ddf4ff; border-color: #54aeff; }
.banner.ok { background: #dafbe1; border-color: #4ac26b; }
ul.errors { margin: .4rem 0 0; padding-left: 1.2rem; }
ol.source { list-style: none; margin: 0; padding: .4rem 0; background: var(--panel); border: 1px solid var(--line);
  border-radius: 4px; font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; counter-reset: line; }
ol.source li.line { white-space: pre-wrap; padding: 0 .6rem; }
ol.source li.line .no { display: inline-block; width: 3rem; color: var(--muted); user-select: none; }
ol.source li.line.has-error { background: #ffebe9; }
ol.source li.field-error { color: var(--err); font-weight: 600; padding: .1rem .6rem .2rem 3.6rem; }
ol.source li.field-error::before { content: "\\2191  "; }
.muted { color: var(--muted); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.actions { display: flex; gap: .6rem; align-items: center; margin: .4rem 0 1rem; }
.actions form { margin: 0; }
`;

/** The tab icon: three nodes in a flow, as SVG (served from /static/favicon.svg). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="6" fill="#0d1117"/>
<path d="M7 16h18" stroke="#58a6ff" stroke-width="3"/>
<circle cx="7" cy="16" r="4" fill="#3fb950"/><circle cx="16" cy="16" r="4" fill="#d29922"/>
<circle cx="25" cy="16" r="4" fill="#58a6ff"/></svg>
`;
