// nnbook site: let the ipywidgets embed manager typeset widget labels with MathJax 3.
// embed.js (html-manager 1.x) calls the MathJax 2 API `MathJax.Hub.Queue(["Typeset", MathJax.Hub, el])`
// when `window.MathJax` exists; MathJax 3 has no `Hub`, so without this every labeled widget
// raises "Cannot read properties of undefined (reading 'Queue')". Widgets render on window
// `load`, after MathJax 3 (a deferred script) has replaced its config object, so installing the
// shim at DOMContentLoaded is early enough.
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub) return;
  mj.Hub = {
    Queue: function (cmd) {
      var el = Array.isArray(cmd) ? cmd[2] : null;
      if (!el || typeof mj.typesetPromise !== "function") return;
      (mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve())
        .then(function () { return mj.typesetPromise([el]); })
        .catch(function (err) { console.warn("MathJax could not typeset a widget label", err); });
    }
  };
});
