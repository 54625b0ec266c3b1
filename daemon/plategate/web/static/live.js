// Live view: fetch the latest frame and what the pipeline saw about once a second.
(function () {
  var img = document.getElementById("live-frame");
  var info = document.getElementById("live-info");
  var box = document.getElementById("box");
  var roi = document.getElementById("roi");
  var last = document.getElementById("last-read");
  var busy = false;

  function setRect(el, r) {
    el.setAttribute("x", r[0]); el.setAttribute("y", r[1]);
    el.setAttribute("width", Math.max(0, r[2] - r[0])); el.setAttribute("height", Math.max(0, r[3] - r[1]));
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
      setRect(roi, [m.x1, m.y1, m.x2, m.y2]);
      if (d.frame) {
        img.src = "data:image/jpeg;base64," + d.frame.jpeg_b64;
        img.dataset.loaded = "1";
        var w = d.frame.width, h = d.frame.height;
        if (d.last && d.last.box && d.last.age_s < 4) {  // a read of the car now in view
          var b = d.last.box;
          setRect(box, [b[0] / w, b[1] / h, b[2] / w, b[3] / h]);
        } else {
          setRect(box, [0, 0, 0, 0]);
        }
        info.textContent = d.camera.backend + " · " + w + "×" + h + " · " + (d.camera.fps || 0).toFixed(1) + " fps";
      } else {
        info.textContent = "no frame (camera " + (d.camera.state || "?") + ")";
      }
      if (d.last) { last.textContent = d.last.plate + " (" + d.last.decision + ")"; }
    }).catch(function (e) {
      info.textContent = "not updating: " + e.message;
    }).finally(function () { busy = false; });
  }
  tick();
  setInterval(tick, 1000);
})();
