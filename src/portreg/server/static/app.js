/* portreg web page: live updates, write actions, shortcuts. Plain JavaScript, no build step.
   Every view is rendered by the server and works without this file; this file only enhances it.
   Live updates fetch what changed (one table row, or the current view's <main>) and patch the
   DOM in place (morph), so the element that has focus stays the same element. */
(() => {
  "use strict";
  const API = "/api/v1";
  const TOKEN_KEY = "portreg.token";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const view = document.body.dataset.view;
  const state = { lastId: null, who: null };

  // ---------- token and requests

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
  }
  function authHeader() {
    const t = token();
    return t ? { Authorization: "Bearer " + t } : {};
  }

  function friendly(err, status) {
    // the API's messages are the CLI's; only the transport's own wording is replaced here
    if (err instanceof TypeError) return "the server did not answer (connection lost?); nothing was changed";
    return err.message || `HTTP ${status}`;
  }

  async function api(path, opts = {}) {
    const headers = Object.assign({ Accept: "application/json" }, authHeader(), opts.headers || {});
    let body = opts.body;
    if (body !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(body); }
    const res = await fetch(API + path, { method: opts.method || "GET", headers, body, cache: "no-store" });
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    if (!res.ok) {
      let detail = (data && data.detail) || `HTTP ${res.status} ${res.statusText}`;
      if (typeof detail !== "string") detail = JSON.stringify(detail);
      // pydantic's "String should match pattern '^…'" says nothing to a person
      detail = detail.replace(/body\.(\w+): String should match pattern '[^']*'/g,
        (_, f) => `${f}: use letters, digits, spaces, dots, dashes or underscores`);
      const err = new Error(detail);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  async function part(url, which) {
    const res = await fetch(url, { headers: Object.assign({ "X-Portreg-Part": which }, authHeader()), cache: "no-store" });
    if (!res.ok) { const e = new Error(`HTTP ${res.status}`); e.status = res.status; throw e; }
    return res.text();
  }

  // ---------- morph: make `from` look like `to`, keeping nodes (and so focus) where it can

  function keyOf(n) { return n.nodeType === 1 ? (n.dataset && n.dataset.id) || n.id || null : null; }

  function morph(from, to) {
    if (from.nodeType !== 1) return;
    // a form's message stays until the person acts again (the server renders it empty)
    if (from.classList.contains("result") && from.textContent.trim()) return;
    for (const a of Array.from(from.attributes)) {
      if (!to.hasAttribute(a.name) && !(a.name === "open" && from.tagName === "DETAILS") &&
          !(a.name === "disabled" && from.tagName === "FIELDSET")) from.removeAttribute(a.name);
    }
    for (const a of Array.from(to.attributes)) {
      if (a.name === "disabled" && from.tagName === "FIELDSET") continue; // enabled by script
      if (a.name === "value" && from === document.activeElement) continue;
      if (from.getAttribute(a.name) !== a.value) from.setAttribute(a.name, a.value);
    }
    if (from.tagName === "FIELDSET") from.disabled = false;
    morphChildren(from, to);
  }

  function morphChildren(from, to) {
    // match first (keyed by data-id/id, the rest in order by type and tag), drop what is gone,
    // then place: a node already in order is never moved, because moving a node blurs it
    const olds = Array.from(from.childNodes), news = Array.from(to.childNodes);
    const byKey = new Map();
    for (const o of olds) { const k = keyOf(o); if (k) byKey.set(k, o); }
    const plain = olds.filter((o) => !keyOf(o));
    let p = 0;
    const matches = news.map((n) => {
      const k = keyOf(n);
      if (k) { const o = byKey.get(k); if (o && o.tagName === n.tagName) { byKey.delete(k); return o; } return null; }
      while (p < plain.length) {
        const o = plain[p++];
        if (o.nodeType === n.nodeType && (n.nodeType !== 1 || o.tagName === n.tagName)) return o;
      }
      return null;
    });
    const kept = new Set(matches.filter(Boolean));
    for (const o of olds) if (!kept.has(o)) from.removeChild(o);
    let cursor = from.firstChild;
    news.forEach((n, i) => {
      let node = matches[i];
      if (node) {
        if (n.nodeType === 1) morph(node, n);
        else if (node.nodeValue !== n.nodeValue) node.nodeValue = n.nodeValue;
      } else node = document.importNode(n, true);
      if (node === cursor) cursor = cursor.nextSibling;
      else from.insertBefore(node, cursor);
    });
  }

  function fragment(html, wrap = "div") {
    const t = document.createElement("template");
    t.innerHTML = wrap === "tbody" ? `<table><tbody>${html}</tbody></table>` : html;
    return wrap === "tbody" ? t.content.querySelector("tr") : t.content;
  }

  function morphInto(el, html) {
    const box = document.createElement(el.tagName);
    box.appendChild(fragment(html));
    morphChildren(el, box);
    enhance(el);
  }

  // ---------- live updates

  let refreshTimer = null, pendingRows = new Set(), wantMain = false;
  function schedule() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(flush, 40);
  }

  async function flush() {
    const rows = [...pendingRows], main = wantMain;
    pendingRows = new Set(); wantMain = false;
    try {
      const jobs = [part(location.pathname + location.search, "summary").then((h) => morphInto($("#summary"), h))];
      if (main) jobs.push(refreshMain());
      else for (const id of rows) jobs.push(refreshRow(id));
      await Promise.all(jobs);
    } catch (err) {
      if (err.status === 401) showNotice("reads need a token: enter one under “write: off” above");
      else if (err.status === 404 && location.pathname.startsWith("/services/")) {
        showNotice("This service was removed from the registry (see all services).");
        $$("#main form fieldset").forEach((f) => { f.disabled = true; });
      }
    }
  }

  async function refreshMain() {
    const html = await part(location.pathname + location.search, "main");
    // A focused row that the new view no longer has hands focus to a neighbour's link (or
    // the heading), not to <body>: a keyboard user keeps their place in the table.
    const row = document.activeElement?.closest?.("tr[data-id]");
    const near = row && [row.nextElementSibling, row.previousElementSibling].filter(Boolean);
    morphInto($("#main"), html);
    document.body.dataset.loaded = "1";
    if (row && !row.isConnected) {
      const link = near.map((r) => r.isConnected && $("a", r)).find(Boolean);
      const target = link || $("#view-h");
      if (!link) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  async function refreshRow(id) {
    const tbody = $("#services tbody");
    if (!tbody) return;
    const res = await fetch(`/services/${encodeURIComponent(id)}`, { headers: Object.assign({ "X-Portreg-Part": "row" }, authHeader()), cache: "no-store" });
    const old = tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (res.status === 404) return refreshMain(); // gone: the count and paging say so too
    if (!res.ok) return;
    const tr = fragment(await res.text(), "tbody");
    // A new row, or one with a new environment's column: the server places it where the
    // filter, sort and page say, with the header and count to match.
    if (!old || tr.children.length !== $$("#services thead th").length) return refreshMain();
    morph(old, tr);
    const row = tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (row) { row.classList.add("flash"); setTimeout(() => row.classList.remove("flash"), 2000); }
  }

  function onChange(entry) {
    const rowsOnly = view === "services" && $("#services tbody") && entry && entry.service && location.pathname !== "/services/" + entry.service;
    if (rowsOnly && (location.pathname === "/" || location.pathname === "/services")) pendingRows.add(entry.service);
    else wantMain = true;
    schedule();
  }

  let es = null, failures = 0, retryTimer = null;
  function setBadge(kind) {
    const b = $("#conn");
    b.dataset.state = kind;
    b.textContent = { live: "live", reconnecting: "reconnecting…", lost: "connection lost — retrying", connecting: "connecting…" }[kind];
  }

  let attempt = 0;
  async function connect() {
    clearTimeout(retryTimer);
    if (es) { es.close(); es = null; }
    const mine = ++attempt;
    setBadge(failures ? "reconnecting" : "connecting");
    const params = new URLSearchParams();
    if (state.lastId !== null) params.set("last", String(state.lastId));
    // EventSource cannot send an Authorization header, and a token in a URL ends up in logs:
    // with a token set, the page trades it (in a header) for a short-lived stream ticket.
    if (token()) {
      try {
        const t = await api("/stream-tickets", { method: "POST" });
        if (t && t.ticket) params.set("ticket", t.ticket);
      } catch { /* no ticket: the stream answers 401 when reads need a token, and we retry */ }
      if (mine !== attempt) return; // a newer connect() took over while we waited
    }
    const q = params.toString();
    es = new EventSource(API + "/events" + (q ? "?" + q : ""));
    es.onopen = () => {
      const wasDown = failures > 0;
      failures = 0;
      setBadge("live");
      if (wasDown) { wantMain = true; schedule(); }
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
        setBadge("lost");
        retryTimer = setTimeout(connect, Math.min(1000 * failures, 10000));
      } else {
        setBadge(failures > 1 ? "lost" : "reconnecting");
      }
    };
  }

  function showNotice(text) {
    let n = $("#needs-token");
    if (!n) { n = document.createElement("p"); n.id = "needs-token"; n.className = "notice"; $("#main").prepend(n); }
    n.textContent = text;
  }

  // ---------- write access: the token is checked when it is entered

  async function checkToken() {
    const box = $("#token-box"), label = $("#write-state"), hint = $("#token-state");
    const openWrites = document.body.dataset.writeAuth === "open";
    if (!token()) {
      state.who = null;
      box.dataset.write = openWrites ? "on" : "off";
      label.textContent = openWrites ? "write: on (open)" : "write: off";
      hint.textContent = "No token: the page is read-only. Create one with `portreg token create --scope write`. It stays in this tab only.";
      return;
    }
    try {
      const res = await fetch("/_page/whoami", { headers: authHeader(), cache: "no-store" });
      const data = await res.json();
      if (!res.ok) throw new Error(data.detail || `HTTP ${res.status}`);
      if (data.accepted === false) {
        // A refused token is forgotten, so the stream and later writes do not keep sending it.
        try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage disabled */ }
        throw new Error(data.detail);
      }
      state.who = data;
      box.dataset.write = data.can_write ? "on" : "off";
      label.textContent = data.can_write ? `write: on (${data.name})` : `read only (${data.name})`;
      hint.textContent = data.can_write
        ? `Token “${data.name}” has scope write; it stays in this tab only.`
        : `Token “${data.name}” has scope ${data.scope}: writes need scope 'write'.`;
    } catch (err) {
      state.who = null;
      box.dataset.write = "off";
      label.textContent = "write: off (token refused)";
      hint.textContent = `That token was not accepted: ${friendly(err)}.`;
    }
  }

  // ---------- write actions

  function values(form) {
    const out = {};
    for (const el of form.elements) if (el.name && !el.closest("[hidden]") && el.value.trim() !== "") out[el.name] = el.value.trim();
    return out;
  }

  const portText = (p) => (p === null || p === undefined ? "TBD" : String(p));

  async function submitAction(form) {
    const result = $(".result", form);
    const v = values(form);
    const action = form.dataset.action;
    const button = $("button[type=submit]", form);
    // busy, not disabled: a disabled button drops the keyboard focus to <body>
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    button.setAttribute("aria-disabled", "true");
    result.className = "result";
    result.textContent = "…";
    try {
      let text, kind = "ok";
      if (action === "assign") {
        const environment = v.environment || v.new_environment;
        if (!environment) throw new Error("name the new environment (or choose one)");
        const body = { service: v.service, environment };
        if (v.protocol) body.protocol = v.protocol;
        const r = await api("/assignments", { method: "POST", body });
        if (r.created) text = `Assigned ${r.service} → ${r.port} (${r.environment}).`;
        else { text = `no change: ${r.service} already has ${r.port} in ${r.environment}.`; kind = "same"; }
      } else if (action === "reserve") {
        const body = { service: v.service, purpose: v.purpose || "" };
        if (v.port) body.port = Number(v.port);
        const r = await api("/reservations", { method: "POST", body });
        if (r.changed === false) { text = `no change: ${r.service} already holds ${r.port}.`; kind = "same"; }
        else text = `Reserved ${r.port} for ${r.service}.`;
      } else if (action === "move") {
        const r = await api(`/services/${encodeURIComponent(form.dataset.service)}/move`, {
          method: "POST", body: { port: Number(v.port), reason: v.reason || "", environment: v.environment } });
        if (r.changed) text = `Moved ${r.service} (${r.environment}) ${portText(r.old)} → ${r.new}.`;
        else { text = `no change: ${r.service} already has ${r.new} in ${r.environment}.`; kind = "same"; }
      } else if (action === "release") {
        const r = await api(`/assignments/${encodeURIComponent(form.dataset.service)}/${encodeURIComponent(v.environment)}`, { method: "DELETE" });
        text = `Released ${r.service}'s port in ${r.environment}.`;
      }
      result.classList.add(kind);
      result.textContent = text;
    } catch (err) {
      result.classList.add("error");
      result.textContent = err.status === 401 || err.status === 403
        ? `${err.message} — nothing was changed. Enter a write token under “write: off” above.`
        : friendly(err, err.status);
    } finally {
      delete form.dataset.busy;
      button.removeAttribute("aria-disabled");
    }
  }

  // ---------- view helpers: range map, topology, filters

  function rangeMap(root) {
    const svg = $("#range-map", root);
    if (!svg || svg.dataset.wired) return;
    svg.dataset.wired = "1";
    const owners = JSON.parse($("#range-owners").textContent || "{}");
    const d = svg.dataset, start = +d.start, end = +d.end, cols = +d.cols, cell = +d.cell, x0 = +d.x0, y0 = +d.y0;
    const avoided = new Set(($("#avoid-list")?.textContent || "").split(/,\s*/).map(Number));
    const info = $("#port-info"), cursor = $("#map-cursor");
    const portAt = (ev) => {
      const pt = svg.getBoundingClientRect();
      const x = ev.clientX - pt.left - x0, y = ev.clientY - pt.top - y0;
      if (x < 0 || y < 0) return null;
      const p = start + Math.floor(y / cell) * cols + Math.floor(x / cell);
      return Math.floor(x / cell) < cols && p <= end ? p : null;
    };
    const describe = (p, act) => {
      const off = p - start;
      cursor.setAttribute("x", x0 + (off % cols) * cell - 1);
      cursor.setAttribute("y", y0 + Math.floor(off / cols) * cell - 1);
      const o = owners[String(p)];
      info.replaceChildren();
      if (o) {
        const a = document.createElement("a");
        a.href = `/services/${encodeURIComponent(o.id)}`; a.textContent = o.name;
        info.append(`${p}: `, a, ` (${o.kind}, ${o.env})`);
      } else if (avoided.has(p)) info.append(`${p}: avoided by the policy`);
      else {
        info.append(`${p}: free — `);
        const b = document.createElement("button");
        b.type = "button"; b.textContent = `reserve ${p}`;
        b.addEventListener("click", () => { $("#reserve-port").value = p; $("#reserve-service").focus(); });
        info.append(b);
        if (act) { $("#reserve-port").value = p; }
      }
    };
    svg.addEventListener("mousemove", (ev) => { const p = portAt(ev); if (p !== null) describe(p, false); });
    svg.addEventListener("click", (ev) => {
      const p = portAt(ev);
      if (p === null) return;
      const o = owners[String(p)];
      if (o) location.href = `/services/${encodeURIComponent(o.id)}`;
      else describe(p, true);
    });
    const picked = Number($("#finder-port")?.value);
    if (picked >= start && picked <= end) describe(picked, false);
  }

  let zoom = 1;
  function topology(root) {
    const box = $("#topology-box", root), svg = $("#topology-svg", root);
    if (!box || !svg) return;
    const apply = () => {
      svg.setAttribute("width", Math.round(svg.dataset.width * zoom));
      svg.setAttribute("height", Math.round(svg.dataset.height * zoom));
      const out = $("#zoom-level"); if (out) out.textContent = `${Math.round(zoom * 100)}%`;
    };
    apply();
    if (box.dataset.wired) return;
    box.dataset.wired = "1";
    $("#zoom-in")?.addEventListener("click", () => { zoom = Math.min(3, zoom * 1.25); apply(); });
    $("#zoom-out")?.addEventListener("click", () => { zoom = Math.max(0.2, zoom / 1.25); apply(); });
    $("#zoom-reset")?.addEventListener("click", () => { zoom = 1; apply(); });
    let drag = null;
    box.addEventListener("pointerdown", (ev) => {
      if (ev.target.closest("a")) return;
      drag = { x: ev.clientX, y: ev.clientY, l: box.scrollLeft, t: box.scrollTop };
      box.classList.add("dragging");
    });
    window.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      box.scrollLeft = drag.l - (ev.clientX - drag.x);
      box.scrollTop = drag.t - (ev.clientY - drag.y);
    });
    window.addEventListener("pointerup", () => { drag = null; box.classList.remove("dragging"); });
    // a wide drawing starts scrolled to the node asked for (#node-ID), else to the top layer's
    // first node: a layer is centred, so at scroll 0 a wide one would show empty space
    const target = (location.hash.startsWith("#node-") && document.getElementById(location.hash.slice(1))) ||
      $("a.node", svg);
    if (target) {
      const b = box.getBoundingClientRect(), r = target.getBoundingClientRect();
      box.scrollLeft += r.left - b.left - box.clientWidth / 2 + r.width / 2;
      box.scrollTop += r.top - b.top - (target.id === location.hash.slice(1) ? box.clientHeight / 2 : 40);
    }
  }

  let filterTimer = null;
  function liveFilter(form) {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(async () => {
      const params = new URLSearchParams(new FormData(form));
      for (const [k, val] of [...params]) if (!val || (k === "sort" && val === "name") || (k === "dir" && val === "asc")) params.delete(k);
      const url = form.getAttribute("action") + (params.toString() ? "?" + params : "");
      history.replaceState(null, "", url);
      try { await refreshMain(); } catch { /* the badge tells */ }
    }, 150);
  }

  function enhance(root) {
    for (const fs of $$("fieldset.needs-js", root)) fs.disabled = false;
    rangeMap(root);
    topology(root);
  }

  // ---------- wiring (delegated, so parts swapped in later work too)

  function init() {
    const id = document.body.dataset.eventId;
    state.lastId = id ? Number(id) : null;
    enhance(document);
    document.addEventListener("submit", (ev) => {
      const f = ev.target;
      if (f.matches("form[data-action]")) { ev.preventDefault(); submitAction(f); }
      else if (f.matches("form.filters")) { ev.preventDefault(); liveFilter(f); }
    });
    document.addEventListener("input", (ev) => {
      const f = ev.target.form;
      if (!f) return;
      if (f.matches("form[data-action]")) { const r = $(".result", f); r.textContent = ""; r.className = "result"; }
      if (f.matches("form.filters")) liveFilter(f);
    });
    document.addEventListener("change", (ev) => {
      const el = ev.target;
      if (el.dataset && el.dataset.newEnv) {
        const box = document.getElementById(el.dataset.newEnv).closest(".field");
        box.hidden = el.value !== "";
        if (!box.hidden) $("input", box).focus();
      }
    });
    document.addEventListener("click", async (ev) => {
      const b = ev.target.closest("button.copy");
      if (!b) return;
      try { await navigator.clipboard.writeText(b.dataset.copy); b.dataset.done = "1"; b.setAttribute("aria-label", "Copied"); }
      catch { window.prompt("Copy:", b.dataset.copy); }
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "/" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !ev.target.closest("input, textarea, select")) {
        const q = $("#q");
        if (q) { ev.preventDefault(); q.focus(); q.select(); }
      }
      if (ev.key === "Escape") {
        for (const d of $$("details.menu[open], details.token[open]")) {
          const inside = d.contains(document.activeElement);
          d.open = false;
          if (inside) $("summary", d).focus(); // back to where the menu was opened from
        }
      }
    });
    $("#token-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const v = $("#token").value.trim();
      try { if (v) sessionStorage.setItem(TOKEN_KEY, v); } catch { /* storage disabled */ }
      $("#token").value = "";
      await checkToken();
      if ($("#needs-token")) { try { await refreshMain(); } catch { /* notice stays */ } }
      connect(); // again, with the token
    });
    $("#token-clear").addEventListener("click", () => {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage disabled */ }
      checkToken();
    });
    checkToken();
    if ($("#needs-token") && token()) {
      Promise.all([refreshMain(), part(location.pathname + location.search, "summary").then((h) => morphInto($("#summary"), h))])
        .catch(() => showNotice("That token cannot read this registry; enter another under “write: off” above."));
    }
    connect();
    document.body.dataset.loaded = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
