// Live view: fetch the latest frame and what the pipeline saw about once a second.
(function () {
  var img = document.getElementById("live-frame");
  var info = document.getElementById("live-info");
  var roi = document.getElementById("roi");
  var last = document.getElementById("last-read");
  var busy = false;
  var drawing = false;  // while the user draws, the live ROI from the daemon does not overwrite it

  function setRect(el, r) {
    el.setAttribute("x", r[0]); el.setAttribute("y", r[1]);
    el.setAttribute("width", Math.max(0, r[2] - r[0])); el.setAttribute("height", Math.max(0, r[3] - r[1]));
  }

  var SVGNS = "http://www.w3.org/2000/svg";
  var plates = document.getElementById("plates");
  function drawPlates(list, w, h) {
    var labels = document.getElementById("labels");
    while (plates.firstChild) { plates.removeChild(plates.firstChild); }
    while (labels.firstChild) { labels.removeChild(labels.firstChild); }
    list.forEach(function (p) {
      var b = p.box, r = document.createElementNS(SVGNS, "rect");
      r.setAttribute("class", "box");
      setRect(r, [b[0] / w, b[1] / h, b[2] / w, b[3] / h]);
      plates.appendChild(r);
      var label = document.createElement("span");
      label.className = "plate-label";
      label.textContent = p.text + " " + Math.round(p.confidence * 100) + " %";
      label.style.left = (100 * b[0] / w) + "%";
      label.style.top = (100 * b[3] / h) + "%";
      labels.appendChild(label);
    });
  }

  function tick() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch("live.json", {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      if (r.status === 401) { window.location = "login?next=/live"; throw new Error("logged out"); }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (d) {
      var m = d.motion_roi;
      if (!drawing) { setRect(roi, [m.x1, m.y1, m.x2, m.y2]); }
      if (d.frame) {
        img.src = "data:image/jpeg;base64," + d.frame.jpeg_b64;
        img.dataset.loaded = "1";
        drawPlates(d.plates || [], d.frame.width, d.frame.height);
        var what = d.plates && d.plates.length ? "analysed frame, " + d.analysed_age_s.toFixed(1) + " s ago" : "live";
        info.textContent = what + " · " + d.camera.backend + " · " + d.frame.width + "×" + d.frame.height + " · " +
          (d.camera.fps || 0).toFixed(1) + " fps";
      } else {
        drawPlates([], 1, 1);
        info.textContent = "no frame (camera " + (d.camera.state || "?") + ")";
      }
      if (d.last) { last.textContent = d.last.plate + " (" + d.last.decision + ")"; }
    }).catch(function (e) {
      info.textContent = "not updating: " + e.message;
    }).finally(function () { busy = false; });
  }
  tick();
  setInterval(tick, 1000);

  // Drawing the motion region: drag on the picture, then save (a normal form post with its CSRF token).
  var svg = document.getElementById("overlay");
  var start = null;
  function show(id, on) { document.getElementById(id).hidden = !on; }
  function frac(ev) {
    var r = svg.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)),
            Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height))];
  }
  function put(a, b) {
    var x1 = Math.min(a[0], b[0]), y1 = Math.min(a[1], b[1]), x2 = Math.max(a[0], b[0]), y2 = Math.max(a[1], b[1]);
    setRect(roi, [x1, y1, x2, y2]);
    [["x1", x1], ["y1", y1], ["x2", x2], ["y2", y2]].forEach(function (p) {
      document.getElementById("roi-" + p[0]).value = p[1].toFixed(3);
    });
    show("roi-save", x2 - x1 > 0.02 && y2 - y1 > 0.02);
  }
  document.getElementById("roi-edit").addEventListener("click", function () {
    drawing = true;
    svg.classList.add("drawing");
    show("roi-edit", false); show("roi-hint", true); show("roi-cancel", true);
  });
  svg.addEventListener("pointerdown", function (ev) {
    if (!drawing) { return; }
    start = frac(ev);
    svg.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  svg.addEventListener("pointermove", function (ev) { if (drawing && start) { put(start, frac(ev)); } });
  svg.addEventListener("pointerup", function (ev) { if (drawing && start) { put(start, frac(ev)); start = null; } });
})();
