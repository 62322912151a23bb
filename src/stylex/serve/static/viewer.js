// stylex viewer: talks to the JSON API of stylex.serve.app. No dependencies.
"use strict";

const STEPS = 1000; // slider positions between a coordinate's min and max
const PAGE = 48; // thumbnails per page

const state = {
  info: null,
  session: null, // the /api/session answer
  cls: 0, // selected class
  userPickedClass: false,
  values: {}, // flat index -> current style value (this class's sliders)
  page: 0,
  selectedIndex: null,
  gen: 0, // bumped when the image/class/edit base changes: stale answers are dropped
  inflight: false,
  pending: false,
};

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------ helpers
async function api(path, options = {}) {
  const opts = { ...options };
  if (opts.json !== undefined) {
    opts.method = opts.method || "POST";
    opts.headers = { "content-type": "application/json" };
    opts.body = JSON.stringify(opts.json);
    delete opts.json;
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new Error("the viewer server is not reachable (" + e.message + ")");
  }
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    body = null;
  }
  if (!resp.ok) {
    const msg = body && body.error ? body.error : resp.status + " " + resp.statusText;
    const err = new Error(msg);
    err.status = resp.status;
    throw err;
  }
  return body;
}

function showError(msg) {
  $("error-text").textContent = msg;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.appendChild(c);
  return e;
}

function fmt(v) {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(3);
}

// ------------------------------------------------------------------------------ probabilities
function renderProbs(id, probs) {
  const box = $(id);
  box.replaceChildren();
  if (!probs) return;
  const top = probs.indexOf(Math.max(...probs));
  probs.forEach((p, k) => {
    const name = state.info.class_names[k];
    const fill = el("div", { class: "fill" });
    fill.style.width = (100 * p).toFixed(1) + "%";
    box.appendChild(
      el("div", { class: "prob" + (k === top ? " best" : ""), title: name }, [
        el("span", { class: "name", text: name }),
        el("div", { class: "track" }, [fill]),
        el("span", { class: "num", text: p.toFixed(3) }),
      ])
    );
  });
}

// ------------------------------------------------------------------------------ thumbnails
async function loadPage(page) {
  const total = state.info.num_images;
  const pages = Math.max(1, Math.ceil(total / PAGE));
  state.page = Math.min(Math.max(0, page), pages - 1);
  const offset = state.page * PAGE;
  const res = await api(`/api/images?offset=${offset}&limit=${PAGE}`);
  const box = $("thumbs");
  box.replaceChildren();
  for (const item of res.items) {
    const img = el("img", { src: `/api/images/${item.index}`, alt: `image ${item.index}` });
    const b = el("button", {
      type: "button",
      title: `#${item.index} · ${item.label_name} (${item.id})`,
      "data-index": String(item.index),
    }, [img]);
    if (item.index === state.selectedIndex) b.classList.add("selected");
    b.addEventListener("click", () => openIndex(item.index));
    box.appendChild(b);
  }
  const last = Math.min(offset + PAGE, total);
  $("page-info").textContent = total ? `${offset + 1}–${last} of ${total}` : "no images";
  $("prev").disabled = state.page === 0;
  $("next").disabled = state.page >= pages - 1;
}

function markSelected() {
  for (const b of $("thumbs").querySelectorAll("button")) {
    b.classList.toggle("selected", Number(b.dataset.index) === state.selectedIndex);
  }
}

// ------------------------------------------------------------------------------ sessions
function setSession(s, sourceText) {
  state.session = s;
  state.gen++;
  $("img-original").src = s.original;
  $("img-reconstruction").src = s.reconstruction;
  $("img-edited").src = s.reconstruction;
  $("img-difference").removeAttribute("src");
  renderProbs("probs-original", s.input_probs);
  renderProbs("probs-reconstruction", s.probs);
  renderProbs("probs-edited", s.probs);
  $("source").textContent = sourceText;
  $("flip-msg").textContent = "";
  $("flip-msg").className = "flip-msg";
  $("status").textContent = "";
  if (!state.userPickedClass) {
    // show the attributes that push toward the runner-up class (the flip target)
    const p = s.probs.slice();
    p[s.predicted] = -1;
    const target = p.indexOf(Math.max(...p));
    if (target >= 0 && target < state.info.classes.length) {
      state.cls = target;
      $("class").value = String(target);
    }
  }
  buildSliders();
}

async function openIndex(i) {
  const n = state.info.num_images;
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    showError(`choose an image index between 0 and ${n - 1}`);
    return;
  }
  clearError();
  try {
    const s = await api("/api/session", { json: { index: i } });
    state.selectedIndex = i;
    $("index").value = String(i);
    if (Math.floor(i / PAGE) !== state.page) await loadPage(Math.floor(i / PAGE));
    markSelected();
    const img = s.image || {};
    setSession(s, `· held-out #${i} (label: ${img.label_name ?? "?"})`);
  } catch (e) {
    showError(e.message);
  }
}

async function upload(file) {
  clearError();
  const limit = state.info.max_upload_bytes;
  if (file.size > limit) {
    showError(`${file.name} is too large (${(file.size / 2 ** 20).toFixed(1)} MB; limit ${(limit / 2 ** 20).toFixed(0)} MB)`);
    return;
  }
  const form = new FormData();
  form.append("file", file);
  try {
    $("status").textContent = "encoding upload…";
    const s = await api("/api/session", { method: "POST", body: form });
    state.selectedIndex = null;
    markSelected();
    setSession(s, `· upload ${s.source.upload}`);
  } catch (e) {
    $("status").textContent = "";
    showError(e.message);
  } finally {
    $("file").value = "";
  }
}

// ------------------------------------------------------------------------------ sliders
function currentAttributes() {
  return state.info.classes[state.cls].attributes;
}

// The value at strength t: own + t·(target − own) (stylex.models.stylespace.shifted).
function valueAt(a, own, t) {
  return own + t * (a.target - own);
}

function sliderRange(a) {
  const own = state.session.values[String(a.index)];
  const reach = a.reach || 1;
  let lo = Math.min(a.min, own, own + reach * (a.min - own));
  let hi = Math.max(a.max, own, own + reach * (a.max - own));
  if (!(hi > lo)) hi = lo + 1e-6;
  return { lo, hi, own };
}

function toPos(v, r) {
  return Math.round(((v - r.lo) / (r.hi - r.lo)) * STEPS);
}

function buildSliders() {
  const box = $("sliders");
  box.replaceChildren();
  state.values = {};
  if (!state.session) return;
  const attrs = currentAttributes();
  if (!attrs.length) {
    box.appendChild(el("p", { class: "muted", text: "AttFind found no attributes for this class." }));
  }
  attrs.forEach((a) => {
    const r = sliderRange(a);
    const key = String(a.index);
    state.values[key] = r.own;
    const input = el("input", {
      type: "range", min: "0", max: String(STEPS), step: "1",
      value: String(toPos(r.own, r)),
      "aria-label": `attribute ${a.rank}: layer ${a.layer}, channel ${a.channel}`,
      "data-index": key,
    });
    const value = el("span", { class: "value", text: fmt(r.own) });
    const tick = el("span", { class: "tick" });
    const frac = (r.own - r.lo) / (r.hi - r.lo);
    tick.style.left = `calc(8px + (100% - 16px) * ${frac.toFixed(4)})`;
    const arrow = a.direction === "max" ? "↑ max" : "↓ min";
    const vis = a.visibility;
    const show = el("button", {
      type: "button", class: "show",
      text: vis ? `show (×${vis.shift.toFixed(1)}${vis.extrapolated ? ", past range" : ""})` : "show",
      title: vis
        ? `pixel change ${vis.change.toFixed(2)}, mean Δp ${vis.delta_p >= 0 ? "+" : ""}${vis.delta_p.toFixed(3)} at this strength`
        : "AttFind's own strength",
    });
    show.addEventListener("click", () => {
      const t = vis ? vis.shift : 1;
      state.values[key] = Math.min(r.hi, Math.max(r.lo, valueAt(a, r.own, t)));
      input.value = String(toPos(state.values[key], r));
      showValue(key);
      $("flip-msg").textContent = "";
      requestEdit();
    });
    const row = el("div", { class: "slider", "data-index": key }, [
      el("div", { class: "head" }, [
        el("span", {}, [
          el("b", { text: `#${a.rank}` }),
          document.createTextNode(` layer ${a.layer} (${a.where}) · ch ${a.channel} · ${arrow}`),
        ]),
        el("span", { class: "muted", text: `effect ${a.effect.toFixed(3)} ` }, [show]),
      ]),
      el("div", { class: "track-wrap" }, [tick, input]),
      el("div", { class: "ends" }, [
        el("span", { text: fmt(r.lo) }),
        value,
        el("span", { text: fmt(r.hi) }),
      ]),
    ]);
    const onMove = () => {
      const pos = Number(input.value);
      state.values[key] = pos === toPos(r.own, r) ? r.own : r.lo + (pos / STEPS) * (r.hi - r.lo);
      showValue(key);
      $("flip-msg").textContent = "";
      requestEdit();
    };
    input.addEventListener("input", onMove);
    input.addEventListener("change", onMove);
    box.appendChild(row);
  });
}

function showValue(key) {
  const row = $("sliders").querySelector(`.slider[data-index="${key}"]`);
  if (!row) return;
  const v = state.values[key];
  row.querySelector(".value").textContent = fmt(v);
  row.classList.toggle("changed", v !== state.session.values[key]);
}

function setSliderValues(values) {
  for (const a of currentAttributes()) {
    const key = String(a.index);
    if (!(key in values)) continue;
    const r = sliderRange(a);
    state.values[key] = values[key];
    const input = $("sliders").querySelector(`input[data-index="${key}"]`);
    if (input) input.value = String(toPos(values[key], r));
    showValue(key);
  }
}

// ------------------------------------------------------------------------------ edits
// At most one edit request in flight; while it runs, slider moves only mark the state dirty
// and the latest values are sent when it returns (latest wins, nothing piles up).
function requestEdit() {
  if (!state.session) return;
  state.pending = true;
  if (!state.inflight) pump();
}

async function pump() {
  state.inflight = true;
  try {
    while (state.pending) {
      state.pending = false;
      const gen = state.gen;
      const sid = state.session.session;
      const values = { ...state.values };
      const t0 = performance.now();
      let r;
      try {
        r = await api("/api/edit", { json: { session: sid, values } });
      } catch (e) {
        if (gen === state.gen) showError(e.message);
        continue;
      }
      if (gen !== state.gen) continue; // the image or class changed meanwhile
      showEdited(r);
      const rt = performance.now() - t0;
      const n = r.edited.length;
      $("status").textContent = n
        ? `${n} coordinate${n > 1 ? "s" : ""} edited · re-ran from layer ${r.start_layer} · ${r.ms.toFixed(1)} ms on the server, ${rt.toFixed(0)} ms round trip`
        : "no edit: the reconstruction";
    }
  } finally {
    state.inflight = false;
  }
}

function showEdited(r) {
  $("img-edited").src = r.image;
  if (r.difference) $("img-difference").src = r.difference;
  renderProbs("probs-edited", r.probs);
}

async function flip() {
  if (!state.session) return;
  clearError();
  state.gen++; // drop edit answers still on their way
  const gen = state.gen;
  try {
    const r = await api("/api/flip", { json: { session: state.session.session, class: state.cls } });
    if (gen !== state.gen) return;
    setSliderValues(r.values);
    showEdited(r);
    const msg = $("flip-msg");
    msg.textContent = r.message;
    msg.className = "flip-msg " + (r.needed ? "flipped" : "no-flip");
    $("status").textContent = `flip computed in ${r.ms.toFixed(1)} ms on the server`;
  } catch (e) {
    showError(e.message);
  }
}

function reset() {
  if (!state.session) return;
  state.gen++;
  buildSliders();
  $("img-edited").src = state.session.reconstruction;
  $("img-difference").removeAttribute("src");
  renderProbs("probs-edited", state.session.probs);
  $("flip-msg").textContent = "";
  $("status").textContent = "reset to the reconstruction";
}

// ------------------------------------------------------------------------------ start
async function main() {
  $("error-close").addEventListener("click", clearError);
  try {
    state.info = await api("/api/info");
  } catch (e) {
    showError(e.message);
    $("run-info").textContent = "";
    return;
  }
  const info = state.info;
  document.title = `stylex viewer · ${info.run}`;
  const kind = info.channels === 1 ? "greyscale" : "RGB";
  $("run-info").textContent =
    `${info.run} · ${info.resolution} px ${kind} · ${info.class_names.length} classes · ` +
    `${info.num_images} held-out images` + (info.baseline ? " · baseline run" : "");
  const types = info.upload_types.join(", ");
  $("upload-hint").textContent = `${types} · up to ${(info.max_upload_bytes / 2 ** 20).toFixed(0)} MB · converted to ${info.resolution} px`;
  const sel = $("class");
  info.classes.forEach((c, k) => sel.appendChild(el("option", { value: String(k), text: c.name })));
  sel.addEventListener("change", () => {
    state.cls = Number(sel.value);
    state.userPickedClass = true;
    reset();
    $("status").textContent = "";
  });
  $("index").max = String(Math.max(0, info.num_images - 1));
  $("open").addEventListener("click", () => openIndex(Number($("index").value)));
  $("index").addEventListener("keydown", (e) => {
    if (e.key === "Enter") openIndex(Number($("index").value));
  });
  $("prev").addEventListener("click", () => loadPage(state.page - 1).catch((e) => showError(e.message)));
  $("next").addEventListener("click", () => loadPage(state.page + 1).catch((e) => showError(e.message)));
  $("file").addEventListener("change", () => {
    const f = $("file").files[0];
    if (f) upload(f);
  });
  $("flip").addEventListener("click", flip);
  $("reset").addEventListener("click", reset);
  try {
    await loadPage(0);
  } catch (e) {
    showError(e.message);
  }
  if (info.num_images > 0) await openIndex(0);
}

document.addEventListener("DOMContentLoaded", main);
