// The socket opens and asks for the conversation while the modules load; socket.js adopts it.
// A classic script (not a module), so it runs as soon as it is parsed, before app.js.
(() => {
  try {
    const m = /^\/c\/([0-9a-f-]{36})\/?$/i.exec(location.pathname);
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/chat/`);
    const early = { ws, frames: [], subscribed: m ? m[1].toLowerCase() : null };
    early.listener = (event) => early.frames.push(event);
    ws.addEventListener("message", early.listener);
    if (early.subscribed) {
      ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "subscribe", conversation: early.subscribed })));
    }
    window.grokwebEarlySocket = early;
  } catch (e) { /* the app connects itself */ }
})();
