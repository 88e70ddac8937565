/**
 * A plain violations page (the full dashboard replaces it). It takes an API token from
 * the URL fragment (never sent to the server or its logs) or asks for one, keeps it in
 * sessionStorage, and refreshes the feed every few seconds. All text goes in through
 * textContent, never innerHTML.
 */
export function dashboardPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ConsultGuard: violations</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.3rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d0d7de}
th{background:#f3f5f7}.in-call{color:#a40e26;font-weight:600}#status{color:#57606a;margin:.5rem 0}
form{margin:1rem 0}input{font:inherit;padding:.3rem;width:28rem;max-width:100%}button{font:inherit;padding:.3rem .8rem}
</style></head><body>
<h1>ConsultGuard: violations</h1>
<form id="login" hidden><label for="token">API token</label> <input id="token" type="password" autocomplete="off"> <button>Show</button></form>
<div id="status" role="status" aria-live="polite"></div>
<table><thead><tr><th>Started</th><th>App</th><th>State</th><th>Workstation</th><th>User</th><th>Site</th><th>Duration</th><th>Ended</th></tr></thead>
<tbody id="rows"></tbody></table>
<script>
const m = /token=([^&]+)/.exec(location.hash);
if (m) { sessionStorage.setItem('cgToken', decodeURIComponent(m[1])); history.replaceState(null, '', location.pathname); }
const form = document.getElementById('login'), status = document.getElementById('status'), rows = document.getElementById('rows');
form.addEventListener('submit', (e) => { e.preventDefault(); sessionStorage.setItem('cgToken', document.getElementById('token').value.trim()); form.hidden = true; load(); });
function cell(tr, text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); }
function dur(s) { return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s'; }
async function load() {
  const token = sessionStorage.getItem('cgToken');
  if (!token) { form.hidden = false; status.textContent = 'Enter an API token (consultguard-server token create --role lead).'; return; }
  try {
    const r = await fetch('/api/violations?limit=200', { headers: { authorization: 'Bearer ' + token } });
    const body = await r.json();
    if (!r.ok) { status.textContent = body.error ? body.error.message : 'error ' + r.status; if (r.status === 401) { sessionStorage.removeItem('cgToken'); form.hidden = false; } return; }
    rows.replaceChildren();
    for (const v of body.items) {
      const tr = document.createElement('tr');
      cell(tr, new Date(v.startedAt).toLocaleString()); cell(tr, v.app); cell(tr, v.state, v.state === 'in-call' ? 'in-call' : '');
      cell(tr, v.hostname); cell(tr, v.user || ''); cell(tr, v.site || ''); cell(tr, dur(v.durationSec)); cell(tr, v.endedAt ? new Date(v.endedAt).toLocaleString() : 'ongoing');
      rows.appendChild(tr);
    }
    status.textContent = body.items.length + ' violation(s), updated ' + new Date().toLocaleTimeString();
  } catch (e) { status.textContent = 'server unreachable; retrying'; }
}
load(); setInterval(load, 3000);
</script></body></html>`;
}
