// The JSON API: session cookie, CSRF header on writes, sign-in on 401.

function cookie(name) {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : "";
}

export class ApiError extends Error {
  constructor(status, message, code = "") {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function createApi(base, loginUrl) {
  async function request(method, path, body, { keepalive = false } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = cookie("csrftoken");
    let res;
    try {
      res = await fetch(base + path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
        keepalive,
      });
    } catch {
      throw new ApiError(0, "The server could not be reached.");
    }
    if (res.status === 401) {
      location.assign(`${loginUrl}?next=${encodeURIComponent(location.pathname)}`);
      throw new ApiError(401, "Please sign in again.");
    }
    if (res.status === 204) return null;
    if (!res.ok) {
      let detail = "";
      let code = "";
      try {
        const answer = await res.json();
        detail = typeof answer.detail === "string" ? answer.detail : "";
        code = answer.code || "";
      } catch {
        /* not JSON */
      }
      if (res.status === 404 && !path.startsWith("presets/")) detail = "That conversation could not be found.";
      throw new ApiError(res.status, detail || "The request failed.", code);
    }
    return res.json();
  }
  return {
    models: () => request("GET", "models/"),
    conversations: (q = "", cursor = "", { view = "", limit = 0 } = {}) => {
      const params = new URLSearchParams();
      if (q) params.set("q", q);
      if (cursor) params.set("cursor", cursor);
      if (view) params.set("view", view);
      if (limit) params.set("limit", String(limit));
      const qs = params.toString();
      return request("GET", `conversations/${qs ? `?${qs}` : ""}`);
    },
    conversation: (id) => request("GET", `conversations/${id}/`),
    patchConversation: (id, patch) => request("PATCH", `conversations/${id}/`, patch),
    deleteConversation: (id) => request("DELETE", `conversations/${id}/`),
    /** A delete that still goes out while the page unloads. */
    deleteBeacon: (id) => request("DELETE", `conversations/${id}/`, undefined, { keepalive: true }).catch(() => null),
    /** Older messages of the visible branch: the page before message `before`. */
    messages: (id, before) => request("GET", `conversations/${id}/messages?before=${encodeURIComponent(before)}`),
    /** Show another version of a message: the server remembers the branch for every tab. */
    switchBranch: (id, messageId) => request("PATCH", `conversations/${id}/`, { leaf: messageId }),
    share: (id) => request("GET", `conversations/${id}/share`),
    createShare: (id) => request("POST", `conversations/${id}/share`),
    deleteShare: (id) => request("DELETE", `conversations/${id}/share`),
    /** Start a download (the server names the file). */
    download(id, format) {
      const a = document.createElement("a");
      a.href = `${base}conversations/${id ? `${id}/export` : "export"}?format=${format}`;
      a.download = "";
      document.body.append(a);
      a.click();
      a.remove();
    },
    conversationUsage: (id) => request("GET", `usage/conversations/${id}`),
    myBudget: () => request("GET", "me/budget/"),
    instructions: () => request("GET", "me/instructions/"),
    setInstructions: (text) => request("PUT", "me/instructions/", { custom_instructions: text }),
    presets: () => request("GET", "presets/"),
    createPreset: (preset) => request("POST", "presets/", preset),
    deletePreset: (id) => request("DELETE", `presets/${id}/`),
  };
}
