// A tiny live line chart on a canvas: the last few minutes of one metric.
export class Sparkline {
  constructor(canvas, windowMs) {
    this.canvas = canvas;
    this.windowMs = windowMs;
    this.points = []; // [time, value]
    this.scheduled = false;
  }

  push(value, at = performance.now()) {
    this.points.push([at, value]);
    const cutoff = at - this.windowMs;
    while (this.points.length && this.points[0][0] < cutoff) this.points.shift();
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => { this.scheduled = false; this.draw(); });
    }
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth * ratio;
    const h = c.clientHeight * ratio;
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext("2d");
    g.clearRect(0, 0, w, h);
    if (this.points.length < 2) return;
    const now = this.points[this.points.length - 1][0];
    let min = Infinity, max = -Infinity;
    for (const [, v] of this.points) { min = Math.min(min, v); max = Math.max(max, v); }
    if (max - min < 1e-9) { max += 1; min -= 1; }
    const x = (t) => w - ((now - t) / this.windowMs) * w;
    const y = (v) => h - 3 * ratio - ((v - min) / (max - min)) * (h - 6 * ratio);
    g.lineWidth = 1.5 * ratio;
    g.strokeStyle = "#4fb3ff";
    g.beginPath();
    this.points.forEach(([t, v], i) => (i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
    g.stroke();
    g.lineTo(x(now), h);
    g.lineTo(x(this.points[0][0]), h);
    g.closePath();
    g.fillStyle = "rgba(79, 179, 255, 0.12)";
    g.fill();
  }
}
