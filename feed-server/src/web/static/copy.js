// Copy buttons of the feed's pages: a button with data-copy="ID" copies the text of the
// <pre><code> inside the element with that id, says "Copied" and tells screen readers so.
"use strict";
(function () {
  function announce(text) {
    var status = document.getElementById("copy-status");
    if (status) {
      status.textContent = "";
      status.textContent = text;
    }
  }
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    var code = target && target.querySelector("pre code");
    if (!code) { return; }
    var text = code.textContent;
    document.querySelectorAll("button.copy").forEach(function (other) {
      if (other !== button) { other.textContent = "Copy"; }
    });
    var done = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); })
      : fallbackCopy(text);
    done.then(function () {
      // It stays "Copied" until another copy button is clicked: a label that changes back
      // on a timer is missed by whoever looked away.
      button.textContent = "Copied";
      announce("Copied to the clipboard");
    }, function () {
      announce("Could not copy: select the text and copy it by hand");
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy") : null;
    if (button) { copy(button); }
  });
})();
