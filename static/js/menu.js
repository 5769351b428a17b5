// A popup menu's keyboard and place, shared by the message and conversation menus:
// arrows move between items, Escape closes it and gives focus back, Tab leaves it; it opens
// under its button and stays inside the window.

export function showMenu(menu, button, close, { alignRight = false } = {}) {
  menu.addEventListener("keydown", (event) => {
    const items = [...menu.querySelectorAll(".menu-item")];
    const at = items.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(at + step + items.length) % items.length].focus();
    } else if (event.key === "Tab") {
      close();
    }
  });
  document.body.append(menu);
  const rect = button.getBoundingClientRect();
  const top = Math.min(rect.bottom + 4, window.innerHeight - menu.offsetHeight - 8);
  const left = alignRight ? rect.right - menu.offsetWidth : rect.left;
  menu.style.top = `${Math.max(8, top)}px`;
  menu.style.left = `${Math.max(8, Math.min(left, window.innerWidth - menu.offsetWidth - 8))}px`;
  button.setAttribute("aria-expanded", "true");
  menu.querySelector(".menu-item").focus();
}
