// The reward inspector's page. Model output is hostile text: everything is put in the page as text
// nodes (never innerHTML), and the server's Content-Security-Policy runs no other script.
"use strict";

const main = document.getElementById("main");
const where = document.getElementById("where");
const inspector = { charts: {} }; // what the page draws, for tests and curious users
window.referee = inspector;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "null";
  return typeof value === "number" ? value.toFixed(digits).replace(/\.?0+$/, "") || "0" : String(value);
}

async function api(path, params) {
  const query = params ? "?" + new URLSearchParams(params) : "";
  const response = await fetch("/ui/api" + path + query, { credentials: "same-origin" });
  if (response.status === 401) throw new Error("login");
  if (!response.ok) {
    const detail = (await response.json().catch(() => ({}))).detail;
    throw new Error(typeof detail === "string" ? detail : detail ? JSON.stringify(detail) : response.statusText);
  }
  return response.json();
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

// Login (only when the server has an API key) -----------------------------------------------------

function loginForm() {
  const key = el("input", { id: "key", type: "password", placeholder: "API key", autocomplete: "off" });
  const message = el("p", { class: "error", id: "login-error" });
  const submit = async (event) => {
    event.preventDefault();
    const response = await fetch("/ui/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: key.value }),
    });
    if (response.ok) route();
    else message.textContent = "Wrong key.";
  };
  show(el("form", { id: "login", onsubmit: submit }, el("h2", { text: "This server needs its API key" }),
    key, " ", el("button", { id: "login-button", type: "submit", text: "Open" }), message));
}

// Runs -------------------------------------------------------------------------------------------

async function runsPage() {
  where.textContent = "";
  const runs = await api("/runs");
  if (!runs.length) {
    show(el("p", { class: "muted", text: "Nothing recorded yet: score batches against this server." }));
    return;
  }
  const rows = runs.map((run) => el("tr", {},
    el("td", {}, el("a", { href: "#/run/" + encodeURIComponent(run.run), class: "run-link", text: run.run })),
    el("td", { class: "num", text: run.requests }), el("td", { class: "num", text: run.items }),
    el("td", { class: "num", text: run.steps ?? "–" }),
    el("td", { text: new Date(run.last * 1000).toLocaleString() })));
  show(el("h2", { text: "Runs" }), el("table", { id: "runs" },
    el("tr", {}, ["run", "requests", "items", "last step", "last request"].map((h) => el("th", { text: h }))),
    rows));
}

// A run's dashboard -------------------------------------------------------------------------------

const PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7b83", "#57606a"];

function lineChart(id, title, steps, series, rightAxis) {
  // `rightAxis`: the one series drawn against its own scale on the right (e.g. latency next to items/s)
  const box = el("div", { class: "panel chart", id, "data-points": steps.length });
  const names = Object.keys(series);
  inspector.charts[id] = { steps, series };
  if (!steps.length || !names.length) {
    box.append(el("h3", { text: title }), el("p", { class: "muted", text: "none in this run" }));
    return box;
  }
  const width = Math.max(360, Math.floor((main.clientWidth - 12) / 2) - 24);  // two per row
  const options = {
    title, width, height: 240,
    scales: { x: { time: false } },
    axes: [
      { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] },
      { size: 60 },
      ...(rightAxis ? [{ scale: rightAxis, side: 1, size: 60, grid: { show: false } }] : []),
    ],
    series: [{ label: "step" }, ...names.map((name, i) => ({
      label: name, stroke: PALETTE[i % PALETTE.length], width: 2, scale: name === rightAxis ? rightAxis : "y",
    }))],
  };
  new uPlot(options, [steps, ...names.map((name) => series[name])], box);
  return box;
}

function histogram(values, bins = 10) {
  if (!values.length) return el("p", { class: "muted", text: "no values" });
  const low = Math.min(...values), high = Math.max(...values);
  const width = (high - low) / bins || 1;
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - low) / width))] += 1;
  const most = Math.max(...counts);
  return el("table", { class: "hist" }, counts.map((count, i) => {
    const bar = el("div", { class: "bar" });
    bar.style.width = Math.round((200 * count) / most) + "px";
    return el("tr", {}, el("td", { class: "num", text: fmt(low + i * width, 2) + "–" + fmt(low + (i + 1) * width, 2) }),
      el("td", {}, bar), el("td", { class: "num", text: count }));
  }));
}

async function runPage(run) {
  where.textContent = "run " + run;
  const series = await api("/series", { run });
  const components = series.components_names;
  const histBox = el("div", { id: "histogram" });
  const pick = el("select", { id: "hist-name", onchange: async () => {
    histBox.replaceChildren(histogram(await api("/values", { run, name: pick.value })));
  } }, ["reward", ...components].map((name) => el("option", { value: name, text: name })));
  const itemsBox = el("div", { id: "items" });
  const views = el("div", { id: "views" });
  show(
    el("h2", { text: "Run " + run }),
    el("div", { class: "charts" },
      lineChart("chart-reward", "mean reward and components per step", series.steps,
        { reward: series.reward, ...series.components }),
      lineChart("chart-nulls", "null rate per error kind", series.steps, series.null_rate),
      lineChart("chart-speed", "items/s (left) and latency in ms (right)", series.steps,
        { "items/s": series.items_per_s, "latency ms": series.latency_ms }, "latency ms")),
    el("div", { class: "panel" }, el("h2", { text: "Score histogram " }), pick, histBox),
    el("div", { class: "panel" }, el("h2", { text: "Items" }), itemsFilters(run, components, series.error_kinds, itemsBox), itemsBox),
    el("div", { class: "panel" }, el("h2", { text: "Reward hacking views" }), viewsControls(run, components, views), views),
  );
  pick.dispatchEvent(new Event("change"));
}

function itemsFilters(run, components, kinds, box) {
  const field = (label, input) => el("label", {}, label, input);
  const component = el("select", { id: "f-component" }, el("option", { value: "", text: "(any)" }),
    components.map((c) => el("option", { value: c, text: c })));
  const min = el("input", { id: "f-min", type: "number", step: "any", size: 5 });
  const max = el("input", { id: "f-max", type: "number", step: "any", size: 5 });
  const error = el("select", { id: "f-error" }, el("option", { value: "", text: "(any)" }),
    kinds.map((k) => el("option", { value: k, text: k })));
  const group = el("input", { id: "f-group", size: 10 });
  const text = el("input", { id: "f-text", size: 16, placeholder: "text in prompt or completion" });
  const sort = el("select", { id: "f-sort" }, [["-reward", "reward ↓"], ["reward", "reward ↑"], ["length", "length ↑"],
    ["-length", "length ↓"], ["-step", "step ↓"]].map(([v, t]) => el("option", { value: v, text: t })));
  let offset = 0;
  const load = async () => {
    const query = new URLSearchParams({ run, sort: sort.value, limit: 50, offset });
    for (const [name, input] of [["component", component], ["min", min], ["max", max], ["error", error],
      ["group", group], ["q", text]]) if (input.value !== "") query.set(name, input.value);
    const page = await api("/items", query);
    box.replaceChildren(itemsTable(page.items, components),
      el("p", { class: "muted", id: "items-total", text: `${page.total} items` }),
      el("button", { id: "prev", disabled: offset === 0 ? "" : null, onclick: () => { offset = Math.max(0, offset - 50); load(); }, text: "◀" }),
      el("button", { id: "next", disabled: offset + 50 >= page.total ? "" : null, onclick: () => { offset += 50; load(); }, text: "▶" }));
  };
  const apply = el("button", { id: "apply", onclick: () => { offset = 0; load(); }, text: "Filter" });
  load();
  return el("div", { class: "filters" }, field("component", component), field("min", min), field("max", max),
    field("error kind", error), field("group", group), field("search", text), field("sort", sort), apply);
}

function itemsTable(items, components) {
  const head = ["item", "group", "step", "reward", ...components, "length", "completion"];
  return el("table", { class: "items-table" }, el("tr", {}, head.map((h) => el("th", { text: h }))),
    items.map((item) => el("tr", { class: "item-row", "data-pk": item.pk },
      el("td", {}, el("a", { href: "#/item/" + item.pk, class: "item-link", text: item.id })),
      el("td", {}, item.group === null ? "–" : el("a", { href: "#/group/" + item.pk, class: "group-link", text: item.group })),
      el("td", { class: "num", text: item.step ?? "–" }),
      el("td", { class: "num", text: fmt(item.reward) }),
      components.map((c) => el("td", { class: "num" + (item.errors[c] ? " error" : ""), title: item.errors[c], text: fmt(item.scores[c]) })),
      el("td", { class: "num", text: item.length }),
      el("td", { class: "preview", text: item.preview }))));
}

function viewsControls(run, components, box) {
  const high = el("select", { id: "v-high" }, components.map((c) => el("option", { value: c, text: c })));
  const low = el("select", { id: "v-low" }, components.map((c) => el("option", { value: c, text: c })));
  if (components.length > 1) low.value = components[1];
  const disagree = async () => {
    const items = await api("/disagreements", { run, high: high.value, low: low.value });
    box.replaceChildren(el("p", { text: `${high.value} ≥ 0.5 but ${low.value} < 0.5: ${items.length} items` }), itemsTable(items, components));
  };
  const shortest = async () => {
    box.replaceChildren(el("p", { text: "highest reward, shortest first" }),
      itemsTable(await api("/short", { run }), components));
  };
  const fallback = async () => {
    box.replaceChildren(el("p", { text: "math right, but no \\boxed{} or <answer> found the answer (a phrase, a looser reading or the last number did)" }),
      itemsTable(await api("/fallback", { run, component: "math" }), components));
  };
  return el("div", { class: "filters" }, high, " high, ", low, " low ",
    el("button", { id: "disagree", onclick: disagree, text: "Where they disagree" }),
    el("button", { id: "shortest", onclick: shortest, text: "Highest-reward shortest" }),
    components.includes("math") ? el("button", { id: "fallback", onclick: fallback, text: "Answers found by a fallback rule" }) : null);
}

// One item and its group ---------------------------------------------------------------------------

const FENCE = /```[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*?)```/g;

function renderText(text) {
  // Reasoning blocks folded, fenced code as code, the rest as text.
  const nodes = [];
  let rest = String(text);
  const think = rest.match(/<think>([\s\S]*?)(<\/think>|$)/);
  if (think) {
    nodes.push(el("details", { class: "reasoning" }, el("summary", { text: `reasoning (${think[1].length} characters)` }),
      el("pre", { text: think[1] })));
    rest = rest.replace(think[0], "");
  }
  let last = 0;
  for (const match of rest.matchAll(FENCE)) {
    if (match.index > last) nodes.push(el("pre", { text: rest.slice(last, match.index) }));
    nodes.push(el("pre", { class: "code", "data-language": match[1], text: match[2] }));
    last = match.index + match[0].length;
  }
  if (last < rest.length) nodes.push(el("pre", { text: rest.slice(last) }));
  return nodes;
}

function renderCompletion(item) {
  if (!item.chat) return renderText(item.completion);
  return (Array.isArray(item.completion) ? item.completion : []).filter((m) => m && typeof m === "object").map((message) => {
    const content = typeof message.content === "string" ? message.content
      : Array.isArray(message.content) ? message.content.map((p) => p.text || "").join("") : "";
    return el("div", { class: "turn " + message.role },
      el("div", { class: "role", text: message.role + (message.name ? " · " + message.name : "") }),
      message.reasoning_content ? el("details", { class: "reasoning" }, el("summary", { text: "reasoning" }), el("pre", { text: message.reasoning_content })) : null,
      renderText(content),
      (Array.isArray(message.tool_calls) ? message.tool_calls : []).map((call) =>
        el("pre", { class: "code tool-call", text: JSON.stringify((call && call.function) || call, null, 2) })));
  });
}

function scoresTable(item) {
  return el("table", { class: "scores" }, el("tr", {}, el("th", { text: "reward" }), el("td", { class: "num", text: fmt(item.reward) })),
    Object.entries(item.scores).map(([name, value]) => el("tr", {}, el("th", { text: name }),
      el("td", { class: "num", text: fmt(value) }), el("td", { class: "error", text: item.errors[name] || "" }))));
}

async function itemPage(pk) {
  const item = await api("/items/" + encodeURIComponent(pk));
  where.textContent = "item " + item.id;
  show(el("h2", { text: "Item " + item.id }),
    el("p", {}, "step ", item.step ?? "–", " · group ", item.group === null ? "–" : el("a", { href: "#/group/" + pk, id: "to-group", text: item.group })),
    el("div", { class: "panel" }, scoresTable(item)),
    el("div", { class: "panel" }, el("h2", { text: "Prompt" }), el("pre", { id: "prompt", text: item.prompt })),
    el("div", { class: "panel", id: "completion" }, el("h2", { text: "Completion" }), renderCompletion(item)),
    item.answer === null ? null : el("div", { class: "panel" }, el("h2", { text: "Reference answer" }), el("pre", { text: item.answer })));
}

async function groupPage(pk) {
  const group = await api(`/items/${encodeURIComponent(pk)}/group`);
  where.textContent = "group " + group.group;
  show(el("h2", { text: `Group ${group.group} · mean ${fmt(group.mean)} · std ${fmt(group.std)}` }),
    el("div", { class: "group", id: "group" }, group.items.map((item) => el("div", { class: "panel member", "data-pk": item.pk },
      el("p", {}, el("a", { href: "#/item/" + item.pk, text: item.id }), " · reward ", fmt(item.reward), " · advantage ",
        el("span", { class: "advantage", text: fmt(item.advantage) })),
      scoresTable(item), renderCompletion(item)))));
}

// Routing ------------------------------------------------------------------------------------------

function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;  // a malformed % in a hand-typed address
  }
}

async function route() {
  const [, page, arg] = location.hash.split("/").map(decode);
  try {
    if (page === "run") await runPage(arg);
    else if (page === "item") await itemPage(arg);
    else if (page === "group") await groupPage(arg);
    else await runsPage();
  } catch (error) {
    if (error.message === "login") loginForm();
    else show(el("p", { class: "error", text: error.message }));
  }
}

window.addEventListener("hashchange", route);
route();
