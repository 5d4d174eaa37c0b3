// jixiao review: keyboard-first queue and form view. No framework; text goes in through
// textContent only, never innerHTML, because form text comes from strangers' PDFs.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function typing(event) {
    const t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");
  }

  // ---- queue ------------------------------------------------------------------------------
  function queuePage() {
    const rows = Array.from(document.querySelectorAll("#queue tr.qrow"));
    let at = rows.findIndex((r) => !r.classList.contains("done"));
    if (at < 0) at = 0;
    function show() {
      rows.forEach((r, i) => r.classList.toggle("cursor", i === at));
      if (rows[at]) rows[at].scrollIntoView({ block: "nearest" });
    }
    show();
    document.addEventListener("keydown", (event) => {
      if (typing(event)) {
        if (event.key === "Escape") event.target.blur();
        return;
      }
      if (event.key === "j") { at = Math.min(rows.length - 1, at + 1); show(); }
      else if (event.key === "k") { at = Math.max(0, at - 1); show(); }
      else if ((event.key === "Enter" || event.key === "o") && rows[at]) {
        window.location.href = rows[at].dataset.href;
      } else if (event.key === "/") {
        event.preventDefault();
        document.querySelector(".filters input").focus();
        return;
      } else return;
      event.preventDefault();
    });
  }

  // ---- form -------------------------------------------------------------------------------
  function formPage(main) {
    const formId = Number(main.dataset.formId);
    const dpi = Number(main.dataset.dpi);
    let state = JSON.parse(document.getElementById("state").textContent);
    let showAll = false;
    let current = null; // path of the selected field
    let mode = null; // null | "correct" | "form_wrong"
    let busy = false;

    const $ = (id) => document.getElementById(id);

    function visible() {
      return state.fields.filter((f) => showAll || f.pending || f.status || f.flags.length);
    }

    function fieldByPath(path) {
      return state.fields.find((f) => f.path === path) || null;
    }

    function fmt(v) {
      if (v === null || v === undefined) return "∅";
      return typeof v === "object" ? JSON.stringify(v) : String(v);
    }

    function renderFlags() {
      const list = $("flags");
      list.replaceChildren();
      if (!state.flags.length) list.append(el("li", "none", "no flags"));
      state.flags.forEach((flag) => {
        const li = el("li", "flag " + flag.severity);
        li.dataset.code = flag.code;
        li.append(el("b", null, flag.code), el("span", "muted", " " + flag.severity + " · " + flag.origin + " "));
        li.append(el("span", null, flag.message));
        list.append(li);
      });
      $("pending-total").textContent = state.pending + " waiting";
    }

    function renderFields() {
      const body = document.querySelector("#fields tbody");
      body.replaceChildren();
      visible().forEach((f) => {
        const tr = el("tr", "field");
        tr.dataset.path = f.path;
        if (f.pending) tr.classList.add("pending");
        if (f.status) tr.classList.add("st-" + f.status);
        if (f.flags.length) tr.classList.add("flagged");
        if (f.path === current) tr.classList.add("cursor");
        tr.append(
          el("td", "label", f.label),
          el("td", "value", fmt(f.value)),
          el("td", "num", f.confidence === null ? "—" : f.confidence.toFixed(2)),
          el("td", "status", f.status || (f.pending ? "waiting" : ""))
        );
        tr.addEventListener("click", () => select(f.path));
        body.append(tr);
      });
    }

    function renderBoxes() {
      document.querySelectorAll("#pages .page").forEach((pageDiv) => {
        const page = Number(pageDiv.dataset.page);
        const img = pageDiv.querySelector("img");
        const boxes = pageDiv.querySelector(".boxes");
        boxes.replaceChildren();
        if (!img.naturalWidth) return;
        const scale = (dpi / 72) * (img.clientWidth / img.naturalWidth);
        state.fields.forEach((f) => {
          if (f.page !== page || !f.bbox) return;
          const b = el("div", "box");
          if (f.pending) b.classList.add("pending");
          if (f.flags.length) b.classList.add("flagged");
          if (f.path === current) b.classList.add("current");
          b.style.left = f.bbox[0] * scale + "px";
          b.style.top = f.bbox[1] * scale + "px";
          b.style.width = Math.max(2, (f.bbox[2] - f.bbox[0]) * scale) + "px";
          b.style.height = Math.max(2, (f.bbox[3] - f.bbox[1]) * scale) + "px";
          b.title = f.label;
          b.addEventListener("click", () => select(f.path));
          boxes.append(b);
          if (f.path === current) b.scrollIntoView({ block: "nearest" });
        });
      });
    }

    function renderSelected() {
      const f = fieldByPath(current);
      $("selected").hidden = !f;
      if (!f) return;
      $("sel-label").textContent = f.label;
      $("sel-path").textContent = f.path;
      $("sel-value").textContent = fmt(f.value);
      $("sel-confidence").textContent = f.confidence === null ? "no provenance" : f.confidence.toFixed(3);
      $("sel-extractor").textContent = f.extractor || "";
      $("sel-source").textContent = f.source_text === null ? "" : f.source_text;
      $("sel-alt-row").hidden = !f.has_alternative;
      $("sel-alt").textContent = fmt(f.alternative);
      const crop = $("crop");
      if (f.bbox && f.page) {
        crop.hidden = false;
        crop.src = "/forms/" + formId + "/crop.png?path=" + encodeURIComponent(f.path);
      } else {
        crop.hidden = true;
        crop.removeAttribute("src");
      }
      const sig = $("sel-signals");
      sig.replaceChildren();
      Object.entries(f.signals).forEach(([k, v]) => sig.append(el("li", null, k + " = " + v)));
      const fl = $("sel-flags");
      fl.replaceChildren();
      f.flags.forEach((i) => {
        const flag = state.flags[i];
        const li = el("li", "flag " + flag.severity);
        li.append(el("b", null, flag.code + " "), el("span", null, flag.message));
        fl.append(li);
      });
      const hist = $("sel-history");
      hist.replaceChildren();
      f.history.forEach((h) => {
        hist.append(el("li", "muted", h.at + " " + h.reviewer + " " + h.action + ": " + fmt(h.old) + " → " + fmt(h.new) + (h.note ? " (" + h.note + ")" : "")));
      });
    }

    function renderAll() {
      renderFlags();
      renderFields();
      renderSelected();
      renderBoxes();
    }

    function select(path) {
      current = path;
      closeEditor();
      renderFields();
      renderSelected();
      renderBoxes();
      const row = document.querySelector('#fields tr.cursor');
      if (row) row.scrollIntoView({ block: "nearest" });
    }

    function move(step) {
      const list = visible();
      if (!list.length) return;
      let i = list.findIndex((f) => f.path === current);
      i = i < 0 ? 0 : Math.max(0, Math.min(list.length - 1, i + step));
      select(list[i].path);
    }

    function nextPending(fromPath) {
      const list = state.fields;
      const start = list.findIndex((f) => f.path === fromPath);
      for (let k = 1; k <= list.length; k++) {
        const f = list[(start + k + list.length) % list.length];
        if (f.pending) return f.path;
      }
      return null;
    }

    function openEditor(kind) {
      const f = fieldByPath(current);
      if (!f) return;
      mode = kind;
      $("editor").hidden = false;
      $("editor-label").textContent = kind === "correct" ? "correct value:" : "why is the form itself wrong?";
      const input = $("editor-input");
      input.value = kind === "correct" && f.value !== null ? String(f.value) : "";
      input.focus();
      input.select();
    }

    function closeEditor() {
      mode = null;
      $("editor").hidden = true;
    }

    function say(text, bad) {
      const m = $("message");
      m.textContent = text;
      m.classList.toggle("bad", !!bad);
    }

    async function decide(action, extra) {
      const f = fieldByPath(current);
      if (!f || busy) return;
      busy = true;
      try {
        const response = await fetch("/api/forms/" + formId + "/decisions", {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify(Object.assign({ path: f.path, action: action }, extra || {})),
          credentials: "same-origin",
        });
        const data = await response.json();
        if (!response.ok) {
          say(data.error || "failed", true);
          return;
        }
        state = data;
        closeEditor();
        say(action + " saved: " + f.label, false);
        if (state.pending === 0) {
          if (state.next_form) {
            window.location.href = "/forms/" + state.next_form;
            return;
          }
          say("form done — queue is clear (u: back to queue)", false);
        }
        const next = nextPending(f.path);
        current = next || f.path;
        renderAll();
      } catch (err) {
        say("network error: " + err, true);
      } finally {
        busy = false;
      }
    }

    $("editor-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        const text = event.target.value;
        if (mode === "correct") decide("correct", { value: text });
        else if (mode === "form_wrong") decide("form_wrong", { note: text });
      } else if (event.key === "Escape") {
        event.preventDefault();
        closeEditor();
        event.target.blur();
      }
    });

    document.addEventListener("keydown", (event) => {
      if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      const k = event.key;
      if (k === "j") move(1);
      else if (k === "k") move(-1);
      else if (k === "a") decide("accept");
      else if (k === "e") openEditor("correct");
      else if (k === "w") openEditor("form_wrong");
      else if (k === "s") decide("skip");
      else if (k === "t") { showAll = !showAll; renderFields(); }
      else if (k === "u") window.location.href = "/";
      else if (k === "n" || k === "p") goForm(k === "n" ? 1 : -1);
      else if (k === "Escape") closeEditor();
      else return;
      event.preventDefault();
    });

    async function goForm(step) {
      const response = await fetch("/api/queue?status=all", { credentials: "same-origin" });
      const ids = (await response.json()).map((r) => r.id);
      const i = ids.indexOf(formId);
      const target = ids[i + step];
      if (target !== undefined) window.location.href = "/forms/" + target;
      else say(step > 0 ? "last form of the queue" : "first form of the queue", false);
    }

    document.querySelectorAll("#pages img").forEach((img) => img.addEventListener("load", renderBoxes));
    window.addEventListener("resize", renderBoxes);
    const first = state.fields.find((f) => f.pending) || visible()[0] || state.fields[0];
    current = first ? first.path : null;
    renderAll();
  }

  const main = document.getElementById("form-page");
  if (main) formPage(main);
  else if (document.getElementById("queue-page")) queuePage();
})();
