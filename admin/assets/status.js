// Refreshes the status page from /status.json once a second: no library,
// no CDN. The server renders the first view, so the page reads without JS.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const bytes = (n) => n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GiB" : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : n >= 1024 ? (n / 1024).toFixed(0) + " KiB" : n + " B";
  const dur = (s) => s >= 3600 ? Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m" : s >= 60 ? Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s" : s >= 1 ? s.toFixed(1) + "s" : (s * 1000).toFixed(1) + "ms";
  const ms = (s) => s >= 1 ? s.toFixed(2) + " s" : (s * 1000).toFixed(s < 0.01 ? 2 : 1) + " ms";

  function line(points, key, max, w, h) {
    if (points.length < 2) return "";
    const step = w / 59;
    const off = (60 - points.length) * step;
    return points.map((p, i) => (i ? "L" : "M") + (off + i * step).toFixed(1) + "," + (h - 2 - (p[key] / max) * (h - 6)).toFixed(1)).join(" ");
  }
  function chart(el, pts, series, fmt, valueEl) {
    const w = 300, h = 70;
    let max = 0;
    for (const p of pts) for (const s of series) max = Math.max(max, p[s.key]);
    if (max === 0) max = 1;
    let svg = '<line x1="0" y1="' + (h - 1) + '" x2="' + w + '" y2="' + (h - 1) + '" stroke="#dfe8e3"/>';
    for (const s of series) {
      const d = line(pts, s.key, max, w, h);
      if (s.fill && d) svg += '<path d="' + d + " L" + w + "," + (h - 1) + " L" + ((60 - pts.length) * w / 59).toFixed(1) + "," + (h - 1) + ' Z" fill="' + s.fill + '"/>';
      if (d) svg += '<path d="' + d + '" fill="none" stroke="' + s.color + '" stroke-width="1.6" stroke-linejoin="round"/>';
    }
    el.innerHTML = svg;
    el.parentNode.querySelector(".max").textContent = "max " + fmt(max);
    const last = pts.length ? pts[pts.length - 1] : null;
    valueEl.textContent = last ? series.filter((s) => s.show).map((s) => (s.label ? s.label + " " : "") + fmt(last[s.key])).join(" · ") : "–";
  }

  function render(s) {
    $("ready").className = "pill " + (s.ready ? "ok" : "bad");
    $("ready").textContent = s.ready ? "ready" : (s.stopping ? "stopping" : "not ready");
    $("uptime").textContent = "up " + dur(s.uptime);
    $("tiers").innerHTML = s.tiers.map((t) => '<div class="card"><h3>' + esc(t.name) + ' <span class="state ' + esc(t.state) + '">' + esc(t.state) + "</span></h3>" +
      t.addrs.map((a) => '<div class="addr">' + esc(a) + "</div>").join("") + "</div>").join("");
    $("workers").innerHTML = s.workers.length ? s.workers.map((w) => '<tr data-pid="' + w.pid + '"><td class="num">' + w.id + '</td><td class="num mono pid">' + (w.pid || "–") +
      '</td><td><span class="state ' + esc(w.state) + '">' + esc(w.state) + '</span></td><td class="num">' + w.requests + '</td><td class="num">' + (w.rss ? bytes(w.rss) : "–") +
      '</td><td class="num">' + (w.pid ? dur(w.age) : "–") + '</td><td class="num">' + (w.avg_rt ? ms(w.avg_rt) : "–") + '</td><td class="num">' + w.respawns +
      '</td><td class="mono">' + (w.current ? esc(w.current) + " <span class=\"muted\">(" + dur(w.running) + ")</span>" : "") + "</td></tr>").join("")
      : '<tr><td colspan="9" class="empty">No worker processes (appserver.processes is 0, or the appserver runs in a child process).</td></tr>';
    const srv = [];
    for (const u of s.upstreams) for (const v of u.servers) srv.push('<tr><td>' + esc(u.name) + '</td><td>' + esc(u.protocol) + '</td><td class="mono">' + esc(v.address) +
      '</td><td class="num">' + v.weight + (v.backup ? " (backup)" : "") + '</td><td><span class="state ' + (v.up ? "up" : "down") + '">' + (v.up ? "up" : "down") + '</span></td><td class="num">' + v.fails + "</td></tr>");
    $("upstreams").innerHTML = srv.length ? srv.join("") : '<tr><td colspan="6" class="empty">No upstreams.</td></tr>';
    chart($("rate"), s.requests, [{ key: "rate", color: "#0c4b33", fill: "rgba(68,183,139,.18)", show: true }, { key: "errors", color: "#b3261e" }], (v) => v.toFixed(v < 10 ? 1 : 0) + "/s", $("rate-now"));
    chart($("latency"), s.requests, [{ key: "p99", color: "#b3261e", label: "p99", show: true }, { key: "p90", color: "#b7791f" }, { key: "p50", color: "#0c4b33", label: "p50", show: true }], ms, $("latency-now"));
    $("errors").innerHTML = s.errors.length ? s.errors.slice().reverse().map((e) => '<li class="' + esc(e.level) + '"><time>' + esc(new Date(e.time).toLocaleTimeString()) + "</time><b>" + esc(e.level) +
      "</b> " + esc(e.message) + (e.attrs ? '<span class="attrs">' + esc(e.attrs) + "</span>" : "") + "</li>").join("") : '<li class="empty">Nothing logged at WARN or above.</li>';
    $("updated").textContent = new Date().toLocaleTimeString();
  }

  async function poll() {
    try {
      const r = await fetch("status.json", { cache: "no-store" });
      if (r.ok) render(await r.json());
      else $("ready").textContent = "HTTP " + r.status;
    } catch (e) {
      $("ready").className = "pill bad";
      $("ready").textContent = "unreachable";
    }
    setTimeout(poll, 1000);
  }
  try { render(JSON.parse($("initial").textContent)); } catch (e) { /* the server's rendering stays */ }
  setTimeout(poll, 1000);
})();
