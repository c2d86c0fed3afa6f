/* django-jobqueue's admin pages: auto-refresh, select all, and "are you sure?" before an
   action that cannot be undone. A static file, so that a Content-Security-Policy without
   'unsafe-inline' still allows it. */
(function () {
  "use strict";

  function autoRefresh() {
    var box = document.getElementById("jobqueue-autorefresh");
    if (!box) { return; }
    var key = "jobqueue-autorefresh", timer = null;
    function tick() {
      // never reload away an operator's selection
      if (document.querySelector("input[name=_selected_job]:checked")) { arm(); return; }
      window.location.reload();
    }
    function arm() {
      if (timer) { clearTimeout(timer); timer = null; }
      if (box.checked) { timer = setTimeout(tick, 5000); }
    }
    try { box.checked = window.localStorage.getItem(key) === "1"; } catch (e) { /* private mode */ }
    box.addEventListener("change", function () {
      try { window.localStorage.setItem(key, box.checked ? "1" : "0"); } catch (e) { /* ignore */ }
      arm();
    });
    arm();
  }

  function selectAll() {
    var all = document.getElementById("jobqueue-select-all");
    if (!all) { return; }
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=_selected_job]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  function confirmations() {
    // forms whose button carries data-confirm; the bulk form asks for the chosen option's
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var question = null, button = event.submitter || form.querySelector("[data-confirm]");
        if (button && button.getAttribute("data-confirm")) {
          question = button.getAttribute("data-confirm");
        }
        var select = form.querySelector("select[name=action]");
        if (select && select.selectedOptions.length) {
          question = select.selectedOptions[0].getAttribute("data-confirm");
        }
        if (question && !window.confirm(question)) { event.preventDefault(); }
      });
    });
  }

  function start() { autoRefresh(); selectAll(); confirmations(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
