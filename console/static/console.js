// Keeps a live view's figures current without a framework: every few seconds the same page is read
// again and its <main> replaces this one's, unless the operator is using a form field. Without
// JavaScript, the page's <noscript> refresh does the same, less gently.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.dataset.live) { return; }
  var seconds = Math.max(2, parseInt(main.dataset.live, 10) || 5);
  function busy() {
    var el = document.activeElement;
    return document.hidden || (el && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName));
  }
  function refresh() {
    if (busy()) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (fresh) { main.innerHTML = fresh.innerHTML; }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, seconds * 1000);
}());
