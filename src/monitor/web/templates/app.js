// Keyboard shortcuts for the review queue (progressive: every action is a plain form too).
// j / k: next / previous story; a: accept; r: reject; s: snooze (focuses its date): the
// first commitment of the selected story.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-story]"));
  if (!rows.length) { return; }
  var current = 0;
  function select(i) {
    rows[current].classList.remove("selected");
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows[current].classList.add("selected");
    rows[current].scrollIntoView({block: "nearest"});
  }
  select(0);
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey ||
        (target && /INPUT|SELECT|TEXTAREA/.test(target.tagName))) { return; }
    var row = rows[current];
    if (event.key === "j") { select(current + 1); }
    else if (event.key === "k") { select(current - 1); }
    else if (event.key === "a") { row.querySelector("button[data-key=a]").click(); }
    else if (event.key === "r") { row.querySelector("button[data-key=r]").click(); }
    else if (event.key === "s") { row.querySelector("input[name=until]").focus(); }
    else { return; }
    event.preventDefault();
  });
}());
