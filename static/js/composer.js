// The message box: Enter sends, Shift+Enter adds a line; the button sends or stops;
// ↑ in an empty box edits the last message you wrote. With attachments (an AttachmentTray)
// a message may be only an image or a file; nothing is sent while an upload is running.

export class Composer {
  constructor({ form, input, button, onSend, onStop, onEditLast, attachments = null }) {
    this.form = form;
    this.attachments = attachments;
    this.input = input;
    this.button = button;
    this.onSend = onSend;
    this.onStop = onStop;
    this.streaming = false;
    this.busy = false; // a send is waiting for the server's answer
    this.enabled = true;

    input.addEventListener("input", () => {
      this.autosize();
      this.update();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowUp" && !input.value && onEditLast && !event.shiftKey && !event.altKey) {
        if (onEditLast()) event.preventDefault();
        return;
      }
      if (event.key !== "Enter" || event.shiftKey || event.altKey || event.isComposing || event.keyCode === 229) return;
      event.preventDefault();
      if (!this.streaming) this.submit();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.streaming) this.onStop();
      else this.submit();
    });
    this.update();
  }

  hasAttachments() {
    return !!this.attachments && this.attachments.ready().length > 0;
  }

  uploading() {
    return !!this.attachments && this.attachments.uploading();
  }

  submit() {
    const text = this.input.value;
    if ((!text.trim() && !this.hasAttachments()) || this.uploading() || this.busy || !this.enabled) return;
    if (this.onSend(text) !== false) {
      this.input.value = "";
      this.autosize();
      this.update();
    }
  }

  setStreaming(streaming) {
    this.streaming = streaming;
    this.update();
  }

  setBusy(busy) {
    this.busy = busy;
    this.update();
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    this.update();
  }

  focus() {
    this.input.focus({ preventScroll: true });
  }

  autosize() {
    const input = this.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, window.innerHeight * 0.4)}px`;
  }

  update() {
    const b = this.button;
    b.classList.toggle("stop", this.streaming);
    b.setAttribute("aria-label", this.streaming ? "Stop" : "Send");
    b.title = this.streaming ? "Stop the reply" : "Send (Enter)";
    const empty = !this.input.value.trim() && !this.hasAttachments();
    b.disabled = this.streaming ? false : !this.enabled || this.busy || this.uploading() || empty;
  }
}
