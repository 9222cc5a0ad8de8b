/* portreg web page: filtering, sorting, details, live updates, write actions.
   Plain JavaScript, no build step. The server renders the first paint; this file takes over. */
(() => {
  "use strict";
  const API = "/api/v1";
  const TOKEN_KEY = "portreg.token";
  const ENVS = ["development", "staging", "production"];
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const esc = (v) =>
    String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const portText = (p) => (p === null || p === undefined ? "TBD" : String(p));

  const state = {
    services: new Map(), // id -> {service, name, protocol, status, notes, purpose, ports:{env: port}}
    ranges: null,
    audit: null,
    policy: null,
    sort: { key: "name", dir: 1 },
    lastId: null,
    open: null, // id of the service shown in the dialog
  };

  // ---------- data

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
  }

  async function api(path, opts = {}) {
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    let body = opts.body;
    if (body !== undefined && typeof body !== "string") {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    const res = await fetch(API + path, { method: opts.method || "GET", headers, body, cache: "no-store" });
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    if (!res.ok) {
      const err = new Error((data && data.detail) || `HTTP ${res.status} ${res.statusText}`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function setRows(rows, grouped = null) {
    const map = new Map();
    for (const s of grouped || []) map.set(s.service, s);
    for (const r of rows) {
      let s = map.get(r.service);
      if (!s) {
        s = { service: r.service, name: r.name, protocol: r.protocol, transport: r.transport,
              status: r.status, notes: r.notes, purpose: r.purpose, ports: {} };
        map.set(r.service, s);
      }
      s.ports[r.environment] = r.port;
    }
    const before = state.services;
    state.services = map;
    const changed = new Set();
    for (const [id, s] of map) {
      const old = before.get(id);
      if (!old || JSON.stringify(old) !== JSON.stringify(s)) changed.add(id);
    }
    return changed;
  }

  function shown(s, env) {
    if (env) return [env, s.ports[env] ?? null];
    if (s.ports.development !== undefined && s.ports.development !== null) return ["development", s.ports.development];
    for (const [e, p] of Object.entries(s.ports)) if (p !== null) return [e, p];
    return [Object.keys(s.ports)[0] || "development", null];
  }

  function environments() {
    const extra = new Set();
    for (const s of state.services.values()) for (const e of Object.keys(s.ports)) if (!ENVS.includes(e)) extra.add(e);
    return ENVS.concat([...extra].sort());
  }

  // ---------- the registry table

  const cmpText = (a, b) => String(a).localeCompare(String(b), undefined, { sensitivity: "base", numeric: true });

  function sortValue(s, key, env) {
    switch (key) {
      case "port": return shown(s, env)[1];
      case "env": return shown(s, env)[0];
      case "notes": return s.notes || s.purpose || "";
      default: return s[key] ?? "";
    }
  }

  function matches(s, q, env, status) {
    if (env && !(env in s.ports)) return false;
    if (status && s.status !== status) return false;
    if (!q) return true;
    const hay = [s.service, s.name, s.notes, s.purpose, s.protocol, s.status,
      ...Object.entries(s.ports).map(([e, p]) => `${e} ${portText(p)}`)].join(" ").toLowerCase();
    return q.split(/\s+/).every((w) => hay.includes(w));
  }

  function rowHTML(s, env) {
    const [e, p] = shown(s, env);
    const others = env ? "" : Object.entries(s.ports)
      .filter(([oe, op]) => oe !== e && op !== null)
      .map(([oe, op]) => `<small>${esc(oe)} ${esc(op)}</small>`).join("");
    return `<tr data-id="${esc(s.service)}">` +
      `<th scope="row"><button type="button" class="open" data-open="${esc(s.service)}">${esc(s.name)}</button></th>` +
      `<td class="port">${esc(portText(p))}${others}</td>` +
      `<td>${esc(s.protocol)}</td>` +
      `<td><span class="status status-${esc(s.status)}">${esc(s.status)}</span></td>` +
      `<td>${esc(e)}</td>` +
      `<td>${esc(s.notes || s.purpose)}</td></tr>`;
  }

  function renderTable(flash) {
    const q = $("#q").value.trim().toLowerCase();
    const env = $("#f-env").value;
    const status = $("#f-status").value;
    const { key, dir } = state.sort;
    const list = [...state.services.values()].filter((s) => matches(s, q, env, status));
    list.sort((a, b) => {
      const va = sortValue(a, key, env), vb = sortValue(b, key, env);
      if (va === null && vb === null) return cmpText(a.name, b.name);
      if (va === null) return 1; // TBD last, whichever the direction
      if (vb === null) return -1;
      const c = typeof va === "number" && typeof vb === "number" ? va - vb : cmpText(va, vb);
      return c * dir || cmpText(a.name, b.name);
    });
    $("#services tbody").innerHTML = list.map((s) => rowHTML(s, env)).join("") ||
      `<tr class="empty"><td colspan="6">No service matches.</td></tr>`;
    const total = state.services.size;
    $("#count").textContent = list.length === total ? `${total} services` : `${list.length} of ${total} services`;
    if (flash) for (const id of flash) {
      const tr = document.querySelector(`#services tr[data-id="${CSS.escape(id)}"]`);
      if (tr) { tr.classList.add("flash"); setTimeout(() => tr.classList.remove("flash"), 2500); }
    }
  }

  function setSort(key) {
    state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: 1 };
    for (const th of $$("#services thead th")) {
      th.setAttribute("aria-sort", th.dataset.key === key ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
    }
    renderTable();
  }

  function renderFilters() {
    const sel = $("#f-env");
    const cur = sel.value;
    const envs = environments();
    if ([...sel.options].slice(1).map((o) => o.value).join() !== envs.join()) {
      sel.innerHTML = `<option value="">all</option>` + envs.map((e) => `<option>${esc(e)}</option>`).join("");
      sel.value = envs.includes(cur) ? cur : "";
      $("#env-list").innerHTML = envs.map((e) => `<option value="${esc(e)}">`).join("");
    }
  }

  // ---------- ranges

  function renderRanges() {
    const r = state.ranges;
    if (!r) return;
    $("#range-span").textContent = `${r.start}–${r.end}`;
    $("#range-next").textContent = portText(r.next);
    $("#range-assigned").textContent = r.assigned.length;
    $("#range-reserved").textContent = r.reserved.length;
    $("#range-avoided").textContent = r.avoided.length;
    $("#range-free").textContent = r.free;
    if (state.policy) $("#avoid-list").textContent = state.policy.avoid.join(", ");
    const n = r.end - r.start + 1;
    const cols = Math.min(100, n);
    const rows = Math.ceil(n / cols);
    const cell = 10, labelW = 52;
    const kinds = new Map();
    for (const p of r.avoided) kinds.set(p, "avoided");
    for (const p of r.reserved) kinds.set(p, "reserved");
    for (const p of r.assigned) kinds.set(p, "assigned");
    let marks = "";
    for (let row = 0; row < rows; row++) {
      const y = row * cell;
      const first = r.start + row * cols;
      const width = Math.min(cols, r.end - first + 1) * cell;
      marks += `<text x="${labelW - 6}" y="${y + cell - 1.5}" class="strip-label" text-anchor="end">${first}</text>`;
      marks += `<rect class="free" x="${labelW}" y="${y + 0.5}" width="${width}" height="${cell - 1}"/>`;
    }
    // merge runs of the same kind on one row into one rect
    const sorted = [...kinds.keys()].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length;) {
      const p = sorted[i], kind = kinds.get(p), row = Math.floor((p - r.start) / cols);
      let j = i + 1;
      while (j < sorted.length && sorted[j] === sorted[j - 1] + 1 && kinds.get(sorted[j]) === kind &&
             Math.floor((sorted[j] - r.start) / cols) === row) j++;
      const x = labelW + ((p - r.start) % cols) * cell;
      const names = sorted.slice(i, j);
      marks += `<rect class="${kind}" x="${x}" y="${row * cell + 0.5}" width="${(j - i) * cell}" height="${cell - 1}">` +
        `<title>${names.length > 1 ? names[0] + "–" + names[names.length - 1] : names[0]}: ${kind}</title></rect>`;
      i = j;
    }
    if (r.next !== null) {
      const off = r.next - r.start, x = labelW + (off % cols) * cell, y = Math.floor(off / cols) * cell;
      marks += `<rect class="next" x="${x - 1}" y="${y - 0.5}" width="${cell + 2}" height="${cell + 1}"><title>${r.next}: next port</title></rect>`;
    }
    $("#range-strip").innerHTML =
      `<svg viewBox="0 0 ${labelW + cols * cell + 4} ${rows * cell + 2}" preserveAspectRatio="xMinYMin meet" role="presentation">${marks}</svg>`;
  }

  // ---------- environments, audit, changes, topology

  function renderEnvironments() {
    const list = [...state.services.values()].sort((a, b) => cmpText(a.name, b.name));
    $("#env-grid").innerHTML = environments().map((e) => {
      const items = list.filter((s) => e in s.ports).map((s) =>
        `<li><span>${esc(s.name)}</span> <strong class="${s.ports[e] === null ? "tbd" : ""}">${esc(portText(s.ports[e]))}</strong></li>`).join("");
      return `<div class="card env" data-env="${esc(e)}"><h3>${esc(e.charAt(0).toUpperCase() + e.slice(1))}</h3><ul>${items || '<li class="tbd">no services yet</li>'}</ul></div>`;
    }).join("");
  }

  function renderAudit() {
    const a = state.audit;
    if (!a) return;
    $("#audit-last").textContent = a.last_audit || "never";
    $("#audit-next").textContent = a.next_audit;
    $("#audit-checklist").innerHTML = (a.summary.checklist || []).map((c, i) =>
      `<li><input type="checkbox" disabled ${c.ok ? "checked" : ""} id="chk-${i + 1}"><label for="chk-${i + 1}">${esc(c.item)}</label></li>`).join("");
    $("#audit-findings").innerHTML = a.findings.map((f) =>
      `<li class="sev-${esc(f.severity)}"><strong>${esc(f.severity)}</strong> <code>${esc(f.code)}</code> ${esc(f.message)}` +
      (f.hint ? ` <span class="hint">— ${esc(f.hint)}</span>` : "") + "</li>").join("") || '<li class="ok">No findings.</li>';
  }

  function changeHTML(c) {
    const ports = c.old !== null || c.new !== null ? ` ${portText(c.old)} → ${portText(c.new)}` : "";
    return `<li><time datetime="${esc(c.at)}">${esc(c.at)}</time> <strong>${esc(c.action)}</strong> ` +
      `${esc(c.service || "registry")}${c.environment ? " (" + esc(c.environment) + ")" : ""}${esc(ports)}` +
      ` <span class="who">by ${esc(c.who)}</span>${c.reason ? ` — <em>${esc(c.reason)}</em>` : ""}</li>`;
  }

  function renderChanges(list) {
    $("#change-log").innerHTML = list.slice().reverse().map(changeHTML).join("") || "<li>No changes yet.</li>";
  }

  async function refreshTopology() {
    try {
      const res = await fetch("/?part=topology", { cache: "no-store", headers: authHeader() });
      if (res.ok) $("#topology-box").innerHTML = await res.text();
    } catch { /* the stream's badge already says the server is away */ }
  }

  function authHeader() {
    const t = token();
    return t ? { Authorization: "Bearer " + t } : {};
  }

  let refreshing = null, again = false;
  async function refreshAll() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      try {
        const [rows, ranges, audit, policy, changes] = await Promise.all([
          api("/services"), api("/ranges"), api("/audit"), api("/policy"), api("/changes?limit=20"),
        ]);
        const changed = setRows(rows);
        Object.assign(state, { ranges, audit, policy });
        renderFilters();
        renderTable(changed);
        renderRanges();
        renderEnvironments();
        renderAudit();
        renderChanges(changes);
        if (state.open && $("#detail").open) openDetail(state.open, false);
        document.body.dataset.loaded = "1";
        $("#needs-token")?.remove();
      } catch (err) {
        if (err.status === 401 || err.status === 403) showNotice(err.message);
      } finally {
        refreshing = null;
        if (again) { again = false; refreshAll(); }
      }
    })();
    return refreshing;
  }

  function showNotice(text) {
    let n = $("#needs-token");
    if (!n) { n = document.createElement("p"); n.id = "needs-token"; n.className = "notice"; $("main").prepend(n); }
    n.textContent = text;
  }

  // ---------- the detail dialog

  const field = (label, value, code = false) => value
    ? `<dt>${esc(label)}</dt><dd>${code ? `<code>${esc(value)}</code>` : esc(value)}</dd>` : "";

  async function openDetail(id, show = true) {
    const dlg = $("#detail");
    state.open = id;
    for (const f of $$("#detail form[data-action]")) f.dataset.service = id;
    if (show) {
      $("#detail-h").textContent = state.services.get(id)?.name || id;
      $("#detail-body").innerHTML = '<p aria-busy="true">Loading…</p>';
      for (const p of $$("#detail .result")) { p.textContent = ""; p.className = "result"; }
      if (!dlg.open) dlg.showModal();
    }
    let d;
    try { d = await api(`/services/${encodeURIComponent(id)}`); } catch (err) {
      $("#detail-body").innerHTML = `<p class="error">${esc(err.message)}</p>`;
      return;
    }
    $("#detail-h").textContent = `${d.name} (${d.service})`;
    const ports = Object.entries(d.ports).map(([e, p]) => `<li>${esc(e)}: <strong>${esc(portText(p))}</strong></li>`).join("");
    const conns = Object.entries(d.connection_strings || {}).map(([k, v]) => `<li><code>${esc(k)}=${esc(v)}</code></li>`).join("");
    const deps = (d.depends_on || []).map((x) => `<li><button type="button" class="linkish" data-open="${esc(x)}">${esc(state.services.get(x)?.name || x)}</button></li>`).join("");
    const conf = (d.configuration || []).map((c) => `<pre><code data-lang="${esc(c.lang)}">${esc(c.text)}</code></pre>`).join("");
    const hist = (d.history || []).slice().reverse().map((h) =>
      `<tr><td>${esc(h.at)}</td><td>${esc(h.action)}</td><td>${esc(h.environment)}</td><td>${esc(portText(h.old))} → ${esc(portText(h.new))}</td><td>${esc(h.who)}</td><td>${esc(h.reason)}</td></tr>`).join("");
    $("#detail-body").innerHTML =
      `<dl class="facts">${field("Status", d.status)}${field("Protocol", `${d.protocol} over ${d.transport}`)}` +
      `<dt>Ports</dt><dd><ul class="inline">${ports || "<li>none</li>"}</ul></dd>` +
      field("Service", d.description) + field("Notes", d.notes) + field("Purpose", d.purpose) +
      field("Process", d.process) + field("Deployment", d.deployment) + field("Health check", d.health_check, true) +
      field("TLS", d.tls) + field("Connections", d.connections) +
      (conns ? `<dt>Connection strings</dt><dd><ul>${conns}</ul></dd>` : "") +
      `<dt>Dependencies</dt><dd>${deps ? `<ul class="inline">${deps}</ul>` : "none"}</dd></dl>` +
      (conf ? `<h3>Configuration</h3>${conf}` : "") +
      `<h3>History of its ports</h3>` + (hist
        ? `<div class="table-wrap"><table class="history"><thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Env</th><th scope="col">Port</th><th scope="col">Who</th><th scope="col">Reason</th></tr></thead><tbody>${hist}</tbody></table></div>`
        : "<p>No recorded changes.</p>");
    if (show) {
      const first = Object.entries(d.ports).find(([, p]) => p !== null);
      if (first) { $("#move-env").value = first[0]; $("#release-env").value = first[0]; }
    }
  }

  // ---------- write actions

  function formValues(form) {
    const out = {};
    for (const el of form.elements) if (el.name && el.value.trim() !== "") out[el.name] = el.value.trim();
    return out;
  }

  async function submitAction(form) {
    const result = $(".result", form);
    const v = formValues(form);
    const action = form.dataset.action;
    const button = $("button[type=submit]", form);
    result.className = "result";
    result.textContent = "…";
    button.disabled = true;
    try {
      let text;
      if (action === "assign") {
        const r = await api("/assignments", { method: "POST", body: v });
        text = r.created ? `Assigned ${r.service} → ${r.port} (${r.environment}).` : `${r.service} already has ${r.port} in ${r.environment}.`;
      } else if (action === "reserve") {
        const body = { service: v.service, purpose: v.purpose || "" };
        if (v.port) body.port = Number(v.port);
        const r = await api("/reservations", { method: "POST", body });
        text = `Reserved ${r.port} for ${r.service}.`;
      } else if (action === "move") {
        const r = await api(`/services/${encodeURIComponent(form.dataset.service)}/move`, {
          method: "POST", body: { port: Number(v.port), reason: v.reason || "", environment: v.environment } });
        text = `Moved ${r.service} (${r.environment}) ${portText(r.old)} → ${r.new}.`;
      } else if (action === "release") {
        const r = await api(`/assignments/${encodeURIComponent(form.dataset.service)}/${encodeURIComponent(v.environment)}`, { method: "DELETE" });
        text = `Released ${r.service} in ${r.environment}.`;
      }
      result.classList.add("ok");
      result.textContent = text;
      await refreshAll();
    } catch (err) {
      result.classList.add("error");
      const why = err.status === 401 || err.status === 403
        ? `${err.message} — nothing was changed. Enter a write token under “Write access”.`
        : err.message;
      result.textContent = why;
    } finally {
      button.disabled = false;
    }
  }

  function showTokenState() {
    $("#token-state").textContent = token()
      ? "A token is set for this tab (sessionStorage); writes send it as Authorization: Bearer."
      : "No token: the page is read-only. Create one with `portreg token create --scope write`. It stays in this tab only (sessionStorage).";
  }

  // ---------- live updates

  let es = null, failures = 0, retryTimer = null;
  function setBadge(kind) {
    const b = $("#conn");
    b.dataset.state = kind;
    b.textContent = { live: "live", reconnecting: "reconnecting…", lost: "connection lost — retrying", connecting: "connecting…" }[kind];
  }

  let pending = null;
  function onChange(entry) {
    clearTimeout(pending);
    pending = setTimeout(() => { refreshAll(); refreshTopology(); }, 60);
  }

  let attempt = 0;
  async function connect() {
    clearTimeout(retryTimer);
    if (es) { es.close(); es = null; }
    const mine = ++attempt;
    // EventSource cannot send an Authorization header, and a token in a URL ends up in logs:
    // with a token set, the page trades it (in a header) for a short-lived stream ticket.
    const params = new URLSearchParams();
    if (state.lastId !== null) params.set("last", String(state.lastId));
    if (token()) {
      try {
        const t = await api("/stream-tickets", { method: "POST" });
        if (t && t.ticket) params.set("ticket", t.ticket);
      } catch { /* no ticket: the stream answers 401 when reads need a token, and we retry */ }
      if (mine !== attempt) return; // a newer connect() took over while we waited
    }
    const query = params.toString();
    es = new EventSource(API + "/events" + (query ? "?" + query : ""));
    es.onopen = () => {
      const wasDown = failures > 0;
      failures = 0;
      setBadge("live");
      if (wasDown) { refreshAll(); refreshTopology(); }
    };
    es.addEventListener("change", (ev) => {
      const id = Number(ev.lastEventId);
      if (Number.isFinite(id) && id > 0) state.lastId = id;
      let entry = null;
      try { entry = JSON.parse(ev.data); } catch { entry = null; }
      onChange(entry);
    });
    es.onerror = () => {
      failures += 1;
      if (es.readyState === EventSource.CLOSED) {
        // the browser gave up (an HTTP error): start over ourselves, from the last event seen
        setBadge("lost");
        retryTimer = setTimeout(connect, Math.min(1000 * failures, 10000));
      } else {
        setBadge(failures > 1 ? "lost" : "reconnecting");
      }
    };
  }

  // ---------- wiring

  function init() {
    const initial = JSON.parse($("#initial").textContent || "null");
    if (initial) {
      setRows([], initial.services);
      Object.assign(state, { ranges: initial.ranges, audit: initial.audit, policy: initial.policy });
      state.lastId = initial.event_id ?? null;
      renderRanges();
      document.body.dataset.loaded = "1";
    }
    $("#q").addEventListener("input", () => renderTable());
    $("#f-env").addEventListener("change", () => renderTable());
    $("#f-status").addEventListener("change", () => renderTable());
    for (const th of $$("#services thead th")) $("button", th).addEventListener("click", () => setSort(th.dataset.key));
    document.addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-open]");
      if (b) openDetail(b.dataset.open);
    });
    $("#detail").addEventListener("close", () => {
      const id = state.open;
      state.open = null;
      const back = id && document.querySelector(`#services [data-open="${CSS.escape(id)}"]`);
      if (back) back.focus();
    });
    for (const f of $$("form[data-action]")) f.addEventListener("submit", (ev) => { ev.preventDefault(); submitAction(f); });
    $("#token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("#token").value.trim();
      try { if (v) sessionStorage.setItem(TOKEN_KEY, v); } catch { /* storage disabled */ }
      $("#token").value = "";
      showTokenState();
      if (!initial) refreshAll();
      connect(); // again, with the token
    });
    $("#token-clear").addEventListener("click", () => {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage disabled */ }
      showTokenState();
    });
    showTokenState();
    api("/changes?limit=20").then(renderChanges, () => {});
    if (!initial) refreshAll();
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
