/** The console's stylesheet, served as /assets/console.css (a string: it ships inside dist with the code). */
export const CONSOLE_CSS = `
:root {
  --bg: #111418; --panel: #181c22; --panel-2: #1f242c; --line: #2a313b; --text: #e7eaee; --muted: #939daa; --faint: #5f6975;
  --focus: #5aa9ff; --approve: #2eb67d; --reject: #ef5350; --escalate: #f2a93b; --appeal: #b48cff; --sample: #3fc1c9;
  --radius: 10px; --blur: 22px;
  font-family: "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", "DejaVu Sans", system-ui, sans-serif;
  color-scheme: dark;
}
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--text); font-size: 14px; }
button { font: inherit; color: inherit; }
.mono { font-family: "DejaVu Sans Mono", ui-monospace, monospace; }
kbd { display: inline-block; min-width: 1.6em; padding: 1px 5px; border: 1px solid var(--line); border-bottom-width: 2px; border-radius: 5px;
  background: var(--panel-2); color: var(--text); font: 12px "DejaVu Sans Mono", monospace; text-align: center; }

.app { display: grid; grid-template-rows: 52px 1fr 38px; height: 100vh; }
.top { display: flex; align-items: center; gap: 18px; padding: 0 18px; background: var(--panel); border-bottom: 1px solid var(--line); }
.brand { font-weight: 600; letter-spacing: .02em; white-space: nowrap; }
.brand small { color: var(--muted); font-weight: 400; margin-left: 6px; }
.tabs { display: flex; gap: 4px; }
.tab { border: 0; background: transparent; padding: 7px 12px; border-radius: 8px; cursor: pointer; color: var(--muted); display: flex; gap: 8px; align-items: center; }
.tab[aria-selected="true"] { background: var(--panel-2); color: var(--text); box-shadow: inset 0 -2px 0 var(--focus); }
.count { background: var(--line); color: var(--text); border-radius: 99px; padding: 0 8px; font-size: 12px; line-height: 20px; }
.count.old { background: #5a2a2a; }
.spacer { flex: 1; }
.toggles { display: flex; gap: 6px; align-items: center; }
.toggle { border: 1px solid var(--line); background: transparent; border-radius: 8px; padding: 5px 10px; cursor: pointer; color: var(--muted); display: flex; gap: 6px; align-items: center; }
.toggle[aria-pressed="true"] { color: var(--text); border-color: #3d4654; background: var(--panel-2); }
.who { color: var(--muted); white-space: nowrap; }
.timer { font-variant-numeric: tabular-nums; padding: 5px 10px; border-radius: 8px; background: var(--panel-2); white-space: nowrap; }
.timer.low { background: #4a3413; color: #ffd08a; }
.timer.out { background: #4d1f1f; color: #ffb4b4; }

.main { display: grid; grid-template-columns: 1fr 400px; min-height: 0; }
.work { padding: 16px; overflow: auto; min-height: 0; }
.side { border-left: 1px solid var(--line); background: var(--panel); overflow: auto; padding: 16px 18px 0; display: flex; flex-direction: column; }
.side > * { flex: none; }
.decide-box { position: sticky; bottom: 0; margin-top: auto; background: var(--panel); padding: 2px 0 14px; border-top: 1px solid var(--line); box-shadow: 0 -10px 16px -10px rgba(0,0,0,.6); }
.decide-box h3 { margin-top: 10px; }

.grid { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px; }
.tile { position: relative; background: var(--panel); border-radius: var(--radius); border: 2px solid transparent; overflow: hidden; cursor: pointer;
  transition: border-color .12s, opacity .2s; }
.tile.focus { border-color: var(--focus); box-shadow: 0 0 0 3px rgba(90,169,255,.18); }
.tile.done { opacity: .42; }
.frame { position: relative; aspect-ratio: 4 / 3; background: #0b0d10; display: flex; align-items: center; justify-content: center; overflow: hidden; }
.frame img { width: 100%; height: 100%; object-fit: contain; transition: filter .15s; }
.single .frame { aspect-ratio: auto; height: calc(100vh - 52px - 38px - 32px - 58px); }
.blurred .frame img { filter: blur(var(--blur)) saturate(.6); }
.grey .frame img { filter: grayscale(1); }
.blurred.grey .frame img { filter: blur(var(--blur)) grayscale(1); }
.hover-reveal .tile:hover .frame img, .revealed .frame img { filter: none; }
.grey.hover-reveal .tile:hover .frame img, .grey .revealed .frame img, .grey.revealed .frame img { filter: grayscale(1); }
.veil { position: absolute; inset: auto 8px 8px auto; background: rgba(0,0,0,.55); border-radius: 6px; padding: 2px 7px; font-size: 12px; color: var(--muted); }
.tile-bar { display: flex; gap: 6px; align-items: center; padding: 7px 9px; font-size: 12px; color: var(--muted); min-height: 32px; }
.tile-bar .key { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1; }
.badge { border-radius: 6px; padding: 1px 7px; font-size: 12px; white-space: nowrap; background: var(--line); color: var(--text); }
.badge.audit { background: #4d2323; } .badge.sample { background: #15474a; } .badge.appeal { background: #3b2c5c; }
.badge.escalated { background: #4f3a12; } .badge.reversal { background: #223d5c; }
.stamp { position: absolute; top: 10px; left: 10px; padding: 4px 12px; border-radius: 8px; font-weight: 700; letter-spacing: .06em; font-size: 13px; }
.stamp.pass { background: var(--approve); color: #05140d; } .stamp.block { background: var(--reject); color: #1e0505; }
.stamp.gone { background: var(--line); color: var(--text); }
.num { position: absolute; top: 8px; right: 10px; color: var(--faint); font: 12px "DejaVu Sans Mono", monospace; }
.meter { height: 3px; background: var(--line); }
.meter > i { display: block; height: 100%; background: var(--reject); }

.side h2 { font-size: 15px; margin: 0 0 4px; font-weight: 600; word-break: break-all; }
.side h3 { font-size: 12px; text-transform: none; letter-spacing: .04em; color: var(--muted); font-weight: 500; margin: 18px 0 8px; }
.row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; color: var(--muted); }
.chip { background: var(--panel-2); border: 1px solid var(--line); border-radius: 99px; padding: 1px 9px; font-size: 12px; color: var(--text); }
.chip.warn { border-color: #6b3a3a; color: #ffc2c2; }
.bars { display: grid; grid-template-columns: 92px 1fr 44px; gap: 6px 8px; align-items: center; font-size: 12px; }
.bar { height: 8px; border-radius: 4px; background: var(--line); overflow: hidden; }
.bar > i { display: block; height: 100%; background: #7f8b99; }
.bar.hot > i { background: var(--reject); }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; font-size: 13px; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; word-break: break-all; }
.ocr { background: var(--panel-2); border-radius: 8px; padding: 10px 12px; line-height: 1.7; white-space: pre-wrap; word-break: break-all; }
.ocr mark { background: #6b4b12; color: #ffe2a8; border-radius: 3px; padding: 0 2px; }
.note-box { width: 100%; background: var(--panel-2); border: 1px solid var(--line); border-radius: 8px; color: var(--text); padding: 8px 10px; font: inherit; }
.note-box:focus { outline: 2px solid var(--focus); border-color: transparent; }
.reasons { display: grid; grid-template-columns: 1fr 1fr; gap: 5px; margin-top: 8px; }
.reason { text-align: left; border: 1px solid var(--line); background: var(--panel-2); border-radius: 8px; padding: 4px 8px; cursor: pointer; display: flex; gap: 8px; align-items: center; font-size: 13px; line-height: 1.3; }
.reason:hover, .reason.armed { border-color: var(--reject); }
.actions { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
.act { border: 0; border-radius: 9px; padding: 8px; cursor: pointer; font-weight: 600; display: flex; justify-content: center; gap: 8px; align-items: center; }
.act.approve { background: var(--approve); color: #04140c; } .act.reject { background: var(--reject); color: #1d0404; }
.act.plain { background: var(--panel-2); border: 1px solid var(--line); font-weight: 500; }
.notice { border-radius: 8px; padding: 8px 10px; background: #15343a; color: #bdf3f6; font-size: 13px; }
.notice.appeal { background: #2e2447; color: #e2d4ff; } .notice.esc { background: #3d2e10; color: #ffe1a6; }
.list { margin: 0; padding: 0; list-style: none; font-size: 13px; }
.list li { padding: 5px 0; border-bottom: 1px solid var(--line); color: var(--muted); }
.list li b { color: var(--text); font-weight: 500; }

.keys { display: flex; gap: 16px; align-items: center; padding: 0 18px; border-top: 1px solid var(--line); background: var(--panel); color: var(--muted); font-size: 12px; overflow: hidden; white-space: nowrap; }
.keys span { display: inline-flex; gap: 6px; align-items: center; }
.toast { position: fixed; left: 50%; bottom: 56px; transform: translateX(-50%); background: #26303b; color: var(--text); padding: 10px 16px; border-radius: 10px;
  box-shadow: 0 6px 24px rgba(0,0,0,.4); max-width: 640px; z-index: 10; }
.toast.bad { background: #5a2323; } .toast.good { background: #1d4a35; }
.empty { display: flex; flex-direction: column; gap: 8px; align-items: center; justify-content: center; height: 100%; color: var(--muted); }
.empty b { color: var(--text); font-size: 18px; font-weight: 500; }
.overlay { position: fixed; inset: 0; background: rgba(6,8,10,.7); display: flex; align-items: center; justify-content: center; z-index: 20; }
.dialog { background: var(--panel); border: 1px solid var(--line); border-radius: 14px; padding: 20px 24px; min-width: 520px; max-width: 760px; }
.dialog h2 { margin: 0 0 12px; font-size: 16px; }
.help { display: grid; grid-template-columns: max-content 1fr; gap: 8px 18px; align-items: center; }
table.decided { width: 100%; border-collapse: collapse; font-size: 13px; }
table.decided th { text-align: left; color: var(--muted); font-weight: 500; padding: 6px 8px; border-bottom: 1px solid var(--line); }
table.decided td { padding: 7px 8px; border-bottom: 1px solid var(--line); }
table.decided tr.focus td { background: #1b2a3b; }

.login { display: flex; align-items: center; justify-content: center; min-height: 100vh; }
.login form { background: var(--panel); border: 1px solid var(--line); border-radius: 14px; padding: 28px; width: 360px; display: grid; gap: 12px; }
.login h1 { font-size: 18px; margin: 0 0 6px; font-weight: 600; }
.login label { display: grid; gap: 4px; color: var(--muted); font-size: 13px; }
.login input { background: var(--panel-2); border: 1px solid var(--line); border-radius: 8px; color: var(--text); padding: 9px 10px; font: inherit; }
.login .error { color: #ffb4b4; background: #3d1b1b; border-radius: 8px; padding: 8px 10px; font-size: 13px; }
.login .submit { background: var(--focus); color: #04121f; border: 0; border-radius: 8px; padding: 10px; font-weight: 600; cursor: pointer; }
.login a { color: var(--muted); font-size: 12px; justify-self: end; }
`;
