// The server-rendered pages' few behaviours, from a file (the Content-Security-Policy allows no inline script).
//
// - On a narrow screen the navigation folds behind the Menu button (pages.css); without
//   JavaScript it stays unfolded, wrapped above the page. Esc closes it again.
// - `data-copy="#id"` on a button copies that field's value and says "Copied".
// - `data-autosubmit` on a select sends its form when it changes.
// - `data-select-on-focus` on a field selects its text when it gets focus (a link or token to copy).
(() => {
  const header = document.getElementById("page-nav");
  const toggle = header && header.querySelector(".page-nav-toggle");
  if (header && toggle) {
    const show = (open) => { header.classList.toggle("is-open", open); toggle.setAttribute("aria-expanded", String(open)); };
    header.classList.add("is-foldable");
    toggle.addEventListener("click", () => show(!header.classList.contains("is-open")));
    header.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && header.classList.contains("is-open")) { show(false); toggle.focus(); }
    });
  }
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
    const field = button && document.querySelector(button.dataset.copy);
    if (!field || !navigator.clipboard) return;
    navigator.clipboard.writeText(field.value).then(() => { button.textContent = "Copied"; });
  });
  document.addEventListener("focusin", (event) => {
    const field = event.target;
    if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) field.select();
  });
  document.addEventListener("change", (event) => {
    const select = event.target;
    if (select instanceof HTMLSelectElement && select.hasAttribute("data-autosubmit") && select.form) {
      select.form.requestSubmit();
    }
  });
})();
