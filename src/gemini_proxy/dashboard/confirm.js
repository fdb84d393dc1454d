// The confirmation asked before an action changes keys: a modal dialog (Escape cancels).

import { byId, el, setText } from "./dom.js";

const LISTED = 8; // keys named in the dialog; more are counted

export class ConfirmDialog {
  constructor() {
    this.dialog = byId("confirm-dialog");
    this.title = byId("confirm-title");
    this.text = byId("confirm-text");
    this.list = byId("confirm-list");
    this.reasonField = byId("confirm-reason-field");
    this.reason = byId("confirm-reason");
    this.ok = byId("confirm-ok");
    this.resolve = null;
    byId("confirm-cancel").addEventListener("click", () => this.dialog.close("cancel"));
    this.ok.addEventListener("click", () => this.dialog.close("confirm"));
    this.reason.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.dialog.close("confirm");
    });
    this.dialog.addEventListener("close", () => {
      const answer = this.dialog.returnValue === "confirm";
      const resolve = this.resolve;
      this.resolve = null;
      resolve?.({ confirmed: answer, reason: this.reason.value.trim() });
    });
  }

  /**
   * Ask; resolves to {confirmed, reason}. `names`: the keys concerned; `withReason` shows
   * an optional reason field; `danger` styles the confirm button as destructive.
   */
  ask({ title, text, names, confirmLabel, danger = false, withReason = false }) {
    if (this.resolve) this.dialog.close("cancel");
    setText(this.title, title);
    setText(this.text, text);
    const shown = names.slice(0, LISTED).map((name) => el("li", { text: name }));
    if (names.length > LISTED) shown.push(el("li", { class: "muted", text: `and ${names.length - LISTED} more` }));
    this.list.replaceChildren(...shown);
    this.list.hidden = names.length <= 1;
    this.reasonField.hidden = !withReason;
    this.reason.value = "";
    setText(this.ok, confirmLabel);
    this.ok.classList.toggle("btn-danger", danger);
    this.ok.classList.toggle("btn-primary", !danger);
    this.dialog.returnValue = "";
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.dialog.showModal();
      (withReason ? this.reason : this.ok).focus();
    });
  }
}
