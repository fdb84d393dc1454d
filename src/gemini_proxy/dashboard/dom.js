// Small DOM helpers. Everything is built with createElement and textContent: the page
// never parses HTML from strings (its Content-Security-Policy enforces Trusted Types).

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Create an element. `props`: class, text, attrs (object), dataset (object), on (events).
 * Children may be nodes, strings or null/undefined (skipped).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Create an SVG element with attributes. */
export function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function applyProps(node, props) {
  if (props.class) node.className = props.class;
  if (props.text !== undefined) node.textContent = String(props.text);
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [name, value] of Object.entries(props.dataset ?? {})) node.dataset[name] = String(value);
  for (const [name, handler] of Object.entries(props.on ?? {})) node.addEventListener(name, handler);
}

/** Set a node's text only when it differs (no needless layout or announcements). */
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

/** Set (or with null, remove) an attribute only when it differs. */
export function setAttr(node, name, value) {
  if (value === null || value === undefined) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
    return;
  }
  const text = String(value);
  if (node.getAttribute(name) !== text) node.setAttribute(name, text);
}

/** Replace a node's children only when `signature` changed since the last call. */
export function renderIfChanged(node, signature, build) {
  if (node.dataset.sig === signature) return false;
  node.dataset.sig = signature;
  node.replaceChildren(...build());
  return true;
}

/** Look an element up by id; a missing one is a bug in index.html. */
export function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`#${id} is missing from the page`);
  return node;
}
