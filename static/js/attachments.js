// Attachments on the composer: the paperclip, paste and drop add images and files; each is
// uploaded at once (POST /api/attachments/, with progress) and shown as a thumbnail or a
// file chip with its token estimate and a remove button. `send` takes the ids of the ready ones.

import { el } from "grokweb/markdown";
import { formatInt } from "grokweb/format";

export const ACCEPT = "image/png,image/jpeg,image/webp,image/gif,application/pdf,text/*,.md,.markdown,.csv,.tsv,.json,.yaml,.yml,.toml,.py,.js,.ts,.tsx,.jsx,.java,.c,.h,.cpp,.hpp,.cs,.go,.rs,.rb,.php,.sh,.sql,.html,.css,.xml,.txt,.log,.ini,.cfg";

function cookie(name) {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : "";
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** Upload one file with progress; resolves to the server's JSON, rejects with an Error whose message is for a person. */
export function uploadFile(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", cookie("csrftoken"));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response && typeof xhr.response === "object" ? xhr.response : {};
      if (xhr.status === 201) resolve(body);
      else if (xhr.status === 413) reject(new Error(body.detail || `${file.name} is too large.`));
      else if (xhr.status === 401) reject(new Error("Please sign in again."));
      else reject(new Error(typeof body.detail === "string" && body.detail ? body.detail : `${file.name} could not be uploaded.`));
    });
    xhr.addEventListener("error", () => reject(new Error("The server could not be reached.")));
    const form = new FormData();
    form.append("file", file, file.name || "pasted");
    xhr.send(form);
  });
}

let counter = 0;

export class AttachmentTray {
  constructor({ root, button, input, dropZone, textarea, base = "/api/", maxBytes = 10 * 1024 * 1024, onChange = () => {} }) {
    this.root = root;
    this.base = base;
    this.maxBytes = maxBytes;
    this.onChange = onChange;
    this.items = [];
    this.list = el("ul", "att-list");
    this.status = el("p", "att-status");
    this.status.setAttribute("role", "alert");
    this.status.hidden = true;
    this.advice = el("p", "att-status att-advice");
    this.advice.setAttribute("role", "alert");
    this.advice.hidden = true;
    root.append(this.list, this.status, this.advice);
    root.hidden = true;

    if (button && input) {
      input.accept = ACCEPT;
      button.addEventListener("click", () => input.click());
      input.addEventListener("change", () => {
        this.addFiles([...input.files]);
        input.value = "";
      });
    }
    if (textarea) {
      textarea.addEventListener("paste", (event) => {
        const files = [...(event.clipboardData?.files || [])];
        if (!files.length) return;
        event.preventDefault(); // a pasted screenshot is an attachment, not text
        this.addFiles(files);
      });
    }
    if (dropZone) {
      const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
      dropZone.addEventListener("dragover", (event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        dropZone.classList.add("drop-target");
      });
      dropZone.addEventListener("dragleave", (event) => {
        if (!dropZone.contains(event.relatedTarget)) dropZone.classList.remove("drop-target");
      });
      dropZone.addEventListener("drop", (event) => {
        dropZone.classList.remove("drop-target");
        if (!hasFiles(event)) return;
        event.preventDefault();
        this.addFiles([...event.dataTransfer.files]);
      });
    }
    this.list.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-remove]");
      if (remove) this.remove(remove.dataset.remove);
    });
  }

  addFiles(files) {
    this.say("");
    for (const file of files) {
      if (file.size > this.maxBytes) {
        this.say(`${file.name} is ${formatBytes(file.size)}; attachments are limited to ${formatBytes(this.maxBytes)}.`);
        continue;
      }
      const item = {
        key: `att${++counter}`,
        file,
        name: file.name || "pasted image",
        state: "uploading",
        progress: 0,
        image: file.type.startsWith("image/"),
        server: null,
        error: "",
      };
      this.items.push(item);
      this.draw();
      uploadFile(`${this.base}attachments/`, file, (p) => {
        item.progress = p;
        this.drawItem(item);
      }).then(
        (server) => {
          item.server = server;
          item.state = "ready";
          this.drawItem(item);
          this.onChange();
        },
        (error) => {
          // A refused file is not kept: its chip goes and the reason stays readable.
          this.items = this.items.filter((x) => x !== item);
          this.say(error.message);
          this.draw();
          this.onChange();
        },
      );
    }
    this.onChange();
  }

  remove(key) {
    const item = this.items.find((x) => x.key === key);
    if (!item) return;
    this.items = this.items.filter((x) => x !== item);
    if (item.server) {
      fetch(`${this.base}attachments/${item.server.id}/`, {
        method: "DELETE",
        credentials: "same-origin",
        headers: { "X-CSRFToken": cookie("csrftoken") },
      }).catch(() => {}); // an unsent upload is pruned after a day anyway
    }
    this.draw();
    this.onChange();
  }

  /** An upload's refusal or a size limit, until the next file is added. */
  say(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
    this.fit();
  }

  /** A problem with the chosen model ({text, action: {label, run}}), said before anything is sent; null clears it. */
  advise(problem) {
    const text = problem && this.items.length ? problem.text : "";
    if (this.advice.dataset.text === text) return;
    this.advice.dataset.text = text;
    this.advice.textContent = text;
    this.advice.hidden = !text;
    if (text && problem.action) {
      const act = el("button", "btn btn-small att-action", problem.action.label);
      act.type = "button";
      act.addEventListener("click", () => problem.action.run());
      this.advice.append(" ", act);
    }
    this.fit();
  }

  fit() {
    this.root.hidden = !this.items.length && this.status.hidden && this.advice.hidden;
  }

  uploading() {
    return this.items.some((x) => x.state === "uploading");
  }

  ready() {
    return this.items.filter((x) => x.state === "ready");
  }

  ids() {
    return this.ready().map((x) => x.server.id);
  }

  hasImages() {
    return this.ready().some((x) => x.server.kind === "image");
  }

  tokens() {
    return this.ready().reduce((sum, x) => sum + (x.server.tokens || 0), 0);
  }

  /** Take the ready ones out (they travel with a send); give them back with `restore` if the send fails. */
  take() {
    const taken = this.ready();
    this.items = this.items.filter((x) => x.state !== "ready");
    this.say("");
    this.draw();
    this.onChange();
    return taken;
  }

  restore(taken) {
    if (!taken?.length) return;
    this.items = [...taken, ...this.items];
    this.draw();
    this.onChange();
  }

  draw() {
    this.list.replaceChildren(...this.items.map((item) => this.itemNode(item)));
    this.fit();
  }

  drawItem(item) {
    const old = this.list.querySelector(`[data-key="${item.key}"]`);
    if (old) old.replaceWith(this.itemNode(item));
  }

  itemNode(item) {
    const li = el("li", `att-item att-${item.state}`);
    li.dataset.key = item.key;
    // The thumbnail is the stored, downscaled image (an owner-only URL; no blob: or data: URLs,
    // which a strict Content-Security-Policy would have to allow).
    if (item.server?.kind === "image") {
      const img = el("img", "att-thumb");
      img.src = item.server.thumb_url || item.server.url;
      img.alt = "";
      li.append(img);
    } else {
      li.append(el("span", "att-icon", item.image ? "🖼" : "📄"));
    }
    const text = el("span", "att-text");
    text.append(el("span", "att-name", item.name));
    let detail = "";
    if (item.state === "uploading") detail = `Uploading… ${Math.round(item.progress * 100)}%`;
    else if (item.server) detail = `~${formatInt(item.server.tokens)} tokens`;
    text.append(el("span", "att-detail", detail));
    li.append(text);
    if (item.state === "uploading") {
      const bar = el("progress", "att-progress");
      bar.max = 1;
      bar.value = item.progress;
      bar.setAttribute("aria-label", `Uploading ${item.name}`);
      li.append(bar);
    }
    const remove = el("button", "att-remove", "×");
    remove.type = "button";
    remove.dataset.remove = item.key;
    remove.setAttribute("aria-label", `Remove ${item.name}`);
    li.append(remove);
    return li;
  }
}

/** Attachments of a sent message: thumbnails (owner-only URLs) and file chips. */
export function sentAttachments(list) {
  const box = el("div", "msg-attachments");
  for (const a of list || []) {
    const link = el("a", a.kind === "image" ? "sent-image" : "sent-file");
    link.href = a.url;
    link.target = "_blank";
    link.rel = "noopener";
    if (a.kind === "image") {
      const img = el("img", "sent-thumb");
      img.src = a.thumb_url || a.url;
      img.alt = a.name || "image";
      img.loading = "lazy";
      img.decoding = "async";
      link.append(img);
      link.setAttribute("aria-label", `Open image ${a.name || ""}`);
    } else {
      link.append(el("span", "att-icon", "📄"), el("span", "att-name", a.name || "file"));
      link.title = `~${formatInt(a.tokens || 0)} tokens`;
    }
    box.append(link);
  }
  return box;
}
