// A tiny live line chart on a canvas: up to the last few minutes of one metric.
// The x axis spans the data that is there (at least MIN_SPAN_MS), so a chart is
// readable from its second point on instead of a sliver at the right edge.
const MIN_SPAN_MS = 4_000;

export class Sparkline {
  constructor(canvas, windowMs, { color = "#4fb3ff", step = false } = {}) {
    this.canvas = canvas;
    this.windowMs = windowMs;
    this.color = color;
    this.step = step; // draw as steps (booleans such as `locked`)
    this.points = []; // [time, value]
    this.scheduled = false;
  }

  push(value, at = performance.now()) {
    this.points.push([at, value]);
    const cutoff = at - this.windowMs;
    while (this.points.length && this.points[0][0] < cutoff) this.points.shift();
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => { this.scheduled = false; this.draw(); });
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = Math.round(c.clientWidth * ratio);
    const h = Math.round(c.clientHeight * ratio);
    if (w === 0 || h === 0) return; // not laid out (hidden)
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext("2d");
    g.clearRect(0, 0, w, h);
    if (this.points.length === 0) return;
    const now = this.points[this.points.length - 1][0];
    const span = Math.min(this.windowMs, Math.max(MIN_SPAN_MS, now - this.points[0][0]));
    let min = Infinity, max = -Infinity;
    for (const [, v] of this.points) { min = Math.min(min, v); max = Math.max(max, v); }
    if (max - min < 1e-9) { max += 1; min -= 1; }
    const pad = 3 * ratio;
    const x = (t) => w - pad - ((now - t) / span) * (w - 2 * pad);
    const y = (v) => h - pad - ((v - min) / (max - min)) * (h - 2 * pad);
    g.lineWidth = 1.5 * ratio;
    g.lineJoin = "round";
    g.strokeStyle = this.color;
    g.beginPath();
    this.points.forEach(([t, v], i) => {
      if (i === 0) g.moveTo(x(t), y(v));
      else {
        if (this.step) g.lineTo(x(t), y(this.points[i - 1][1]));
        g.lineTo(x(t), y(v));
      }
    });
    g.stroke();
    if (this.points.length > 1) {
      g.lineTo(x(now), h);
      g.lineTo(x(this.points[0][0]), h);
      g.closePath();
      g.globalAlpha = 0.14;
      g.fillStyle = this.color;
      g.fill();
      g.globalAlpha = 1;
    }
    const [lt, lv] = this.points[this.points.length - 1];
    g.fillStyle = this.color;
    g.beginPath();
    g.arc(x(lt), y(lv), 2.2 * ratio, 0, Math.PI * 2);
    g.fill();
  }
}
