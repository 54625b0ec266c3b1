// Ask before destructive form submissions (buttons with data-confirm).
document.addEventListener("submit", function (ev) {
  var button = ev.submitter || ev.target.querySelector("[data-confirm]");
  var text = button && button.getAttribute("data-confirm");
  if (text && !window.confirm(text)) { ev.preventDefault(); }
});
