// The console works without this file; it only shows that the model is working.
"use strict";

// A form marked data-busy asks the image model for a drawing, which takes a while: say so,
// and keep a second click from asking again.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-busy")) {
    return;
  }
  for (const button of form.querySelectorAll("button[type=submit]")) {
    button.disabled = true;
  }
  for (const busy of form.querySelectorAll(".busy")) {
    busy.hidden = false;
  }
});

// Coming back with the browser's Back button shows the page as it was left: ready again.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-busy]")) {
    for (const button of form.querySelectorAll("button[type=submit]")) {
      button.disabled = false;
    }
    for (const busy of form.querySelectorAll(".busy")) {
      busy.hidden = true;
    }
  }
});

// A style picker shows what the chosen style means under it.
document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-described")) {
    return;
  }
  const description = select.parentElement.querySelector(".description");
  if (description) {
    description.textContent = select.selectedOptions[0]?.dataset.description ?? "";
  }
});
