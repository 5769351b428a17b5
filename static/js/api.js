// The JSON API: session cookie, CSRF header on writes, sign-in on 401.

function cookie(name) {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : "";
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function createApi(base, loginUrl) {
  async function request(method, path, body) {
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
      throw new ApiError(res.status, res.status === 404 ? "Not found." : "The request failed.");
    }
    return res.json();
  }
  return {
    models: () => request("GET", "models/"),
    conversations: (q = "", cursor = "") => {
      const params = new URLSearchParams();
      if (q) params.set("q", q);
      if (cursor) params.set("cursor", cursor);
      const qs = params.toString();
      return request("GET", `conversations/${qs ? `?${qs}` : ""}`);
    },
    conversation: (id) => request("GET", `conversations/${id}/`),
    patchConversation: (id, patch) => request("PATCH", `conversations/${id}/`, patch),
    deleteConversation: (id) => request("DELETE", `conversations/${id}/`),
    conversationUsage: (id) => request("GET", `usage/conversations/${id}`),
    myBudget: () => request("GET", "me/budget/"),
  };
}
