// The "Share link" dialog: a read-only link to the conversation as it is now (the
// branch shown, without usage figures). Creating it again gives a new snapshot;
// "Stop sharing" makes the link answer 404.

export class ShareDialog {
  constructor(dialog, api, toast) {
    this.dialog = dialog;
    this.api = api;
    this.toast = toast;
    this.id = null;
    this.q = (sel) => dialog.querySelector(sel);
    this.q("[data-share=create]").addEventListener("click", () => this.create());
    this.q("[data-share=revoke]").addEventListener("click", () => this.revoke());
    this.q("[data-share=copy]").addEventListener("click", () => this.copy());
    this.q("[data-share=close]").addEventListener("click", () => dialog.close());
  }

  async open(id, title) {
    this.id = id;
    this.q(".share-title").textContent = title || "New chat";
    this.show({ loading: true });
    this.dialog.showModal();
    try {
      this.show(await this.api.share(id));
    } catch (err) {
      this.show({ error: err.message || "Could not read the share link." });
    }
  }

  show(state) {
    const link = this.q("[data-share=url]");
    const shared = !!state.url;
    this.q(".share-status").textContent = state.loading ? "Loading…"
      : state.error ? state.error
      : !state.enabled ? "Sharing is turned off for this team by an administrator."
      : shared ? "Anyone with this link can read the conversation as it was when you shared it (without usage figures)."
      : "Create a read-only link to this conversation as it is now. Later messages are not included.";
    this.q(".share-status").classList.toggle("error", !!state.error);
    link.value = state.url ? new URL(state.url, location.origin).href : "";
    this.q(".share-link").hidden = !shared;
    this.q("[data-share=create]").hidden = state.loading || !!state.error || !state.enabled;
    this.q("[data-share=create]").textContent = shared ? "Update link to now" : "Create link";
    this.q("[data-share=revoke]").hidden = !shared;
  }

  async create() {
    try {
      this.show(await this.api.createShare(this.id));
      this.q("[data-share=url]").select();
    } catch (err) {
      this.show({ error: err.message || "Could not create the link.", enabled: true });
    }
  }

  async revoke() {
    try {
      await this.api.deleteShare(this.id);
      this.show({ enabled: true });
      this.toast("The link no longer works.");
    } catch (err) {
      this.show({ error: err.message || "Could not stop sharing.", enabled: true });
    }
  }

  async copy() {
    const input = this.q("[data-share=url]");
    const button = this.q("[data-share=copy]");
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
    } catch {
      input.select();
      document.execCommand("copy");
      button.textContent = "Copied";
    }
    setTimeout(() => {
      button.textContent = "Copy";
    }, 1200);
  }
}
