// Consequential buttons say what they will do before they do it: a form (or its submit button)
// with data-confirm asks first; "{level}" in the text becomes the level chosen in the form.
// A file, not inline script: the pages' CSP allows scripts from 'self' only.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const text = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
  if (!text) return;
  const select = form.querySelector("select[name=level]");
  const level = select && select.selectedOptions.length ? select.selectedOptions[0].textContent.trim() : "";
  if (!window.confirm(text.replace("{level}", level))) event.preventDefault();
}, true);
