// A shared conversation: the server sends plain text; replies are rendered as
// markdown when they come near the viewport, so a long conversation opens at once.

import { MarkdownView } from "grokweb/markdown";

const messages = JSON.parse(document.getElementById("shared-messages").textContent);
const upgrade = (article) => {
  const msg = messages[Number(article.dataset.index)];
  const content = article.querySelector(".content");
  if (!msg || !content || article.dataset.rendered) return;
  article.dataset.rendered = "1";
  content.classList.remove("plain");
  content.textContent = "";
  new MarkdownView(content).update(msg.content, false);
};
const articles = document.querySelectorAll("article.msg-assistant");
if ("IntersectionObserver" in window) {
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) {
        observer.unobserve(entry.target);
        upgrade(entry.target);
      }
    }
  }, { rootMargin: "1000px 0px" });
  for (const article of articles) observer.observe(article);
} else {
  for (const article of articles) upgrade(article);
}
