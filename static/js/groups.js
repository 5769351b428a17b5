// Pure: the order and date groups of the conversation list (tested in tests/js/).

const DAY_MS = 86_400_000;

/** Pinned first (when asked), then newest first; ties by id, as the server pages them. */
export function sortConversations(list, pinnedFirst = true) {
  return [...list].sort((a, b) => {
    if (pinnedFirst && !!a.pinned !== !!b.pinned) return a.pinned ? -1 : 1;
    const ta = Date.parse(a.updated_at) || 0;
    const tb = Date.parse(b.updated_at) || 0;
    if (ta !== tb) return tb - ta;
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  });
}

/** "Today", "Yesterday", "Previous 7 days", "Previous 30 days" or "Older", in the reader's time zone. */
export function groupLabel(updatedAt, now = new Date()) {
  const when = new Date(updatedAt);
  if (Number.isNaN(when.getTime())) return "Older";
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const t = when.getTime();
  if (t >= midnight) return "Today";
  // Calendar days, not 24-hour spans (daylight saving shifts a day by an hour).
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1).getTime();
  if (t >= yesterday) return "Yesterday";
  if (t >= midnight - 7 * DAY_MS) return "Previous 7 days";
  if (t >= midnight - 30 * DAY_MS) return "Previous 30 days";
  return "Older";
}
