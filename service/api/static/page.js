// The page at /: reads the catalogue (GET v1/losses) and shows each loss, by task, with a
// control per parameter; a change redraws the loss's plot (GET v1/losses/{name}/plot?...).
// Plain DOM, no framework and no outside asset.
"use strict";

const TASKS = ["regression", "binary", "multiclass", "multilabel", "distribution"];

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function plotUrl(name, form) {
  const query = new URLSearchParams();
  for (const input of form.querySelectorAll("input")) {
    const value = input.type === "checkbox" ? String(input.checked) : input.value.trim();
    if (value !== "" && value !== input.dataset.default) query.set(input.name, value);
  }
  const text = query.toString();
  return `v1/losses/${name}/plot` + (text ? `?${text}` : "");
}

function control(parameter) {
  const label = element("label", { title: parameter.description, text: parameter.name + " " });
  let input;
  if (parameter.type === "bool") {
    input = element("input", { type: "checkbox", name: parameter.name });
    input.checked = parameter.default === true;
    input.dataset.default = String(parameter.default === true);
  } else if (parameter.type === "float" || parameter.type === "int") {
    const text = parameter.default === null ? "" : String(parameter.default);
    input = element("input", { type: "number", name: parameter.name, value: text, step: "any" });
    input.dataset.default = text;
  } else {
    return null; // class weights: one per class, not a single control
  }
  label.append(input);
  return label;
}

async function showError(url, error) {
  try {
    const response = await fetch(url);
    const problem = await response.json();
    error.textContent = problem.detail || `HTTP ${response.status}`;
  } catch (failure) {
    error.textContent = String(failure);
  }
}

function card(loss) {
  const form = element("form", { "data-loss": loss.name });
  for (const parameter of loss.parameters) {
    const node = control(parameter);
    if (node) form.append(node);
  }
  const image = element("img", { alt: `${loss.name}: the loss and its gradient`, "data-loss": loss.name });
  const error = element("p", { class: "error", role: "status" });
  let timer = null;
  const draw = () => {
    const url = plotUrl(loss.name, form);
    error.textContent = "";
    image.onerror = () => showError(url, error);
    image.src = url;
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(draw, 250);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  draw();
  const aliases = [...loss.aliases, ...loss.names].join(", ");
  return element(
    "section",
    { class: "loss", id: loss.name },
    element("h3", { text: loss.name }),
    element("div", { class: "aliases", text: aliases ? `also: ${aliases}` : "" }),
    element("p", { text: loss.summary }),
    element("code", { class: "formula", text: loss.formula }),
    element("p", { class: "inputs", text: `predictions: ${loss.inputs.predictions}; targets: ${loss.inputs.targets}` }),
    form,
    image,
    error,
  );
}

async function main() {
  const main = document.getElementById("catalogue");
  const nav = document.getElementById("tasks");
  try {
    const response = await fetch("v1/losses");
    const { losses } = await response.json();
    main.textContent = "";
    for (const task of TASKS) {
      const group = losses.filter((loss) => loss.task === task);
      if (!group.length) continue;
      nav.append(element("a", { href: `#${task}`, text: `${task} (${group.length})` }));
      main.append(element("h2", { id: task, text: task }), ...group.map(card));
    }
  } catch (failure) {
    main.textContent = `The catalogue did not load: ${failure}`;
  }
}

main();
