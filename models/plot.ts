/**
 * Loss curves as standalone SVG (no dependencies): a person opens the file in any browser. Lines are drawn
 * in data coordinates mapped linearly to the plot box; ticks are "nice" numbers (1, 2, 5 × 10ᵏ).
 */
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";

/** One line on the plot: points `[x, y]`; non-finite points are skipped. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** CSS colour (default: a palette by position). */
  readonly color?: string;
  /** Draw dashed (default false). */
  readonly dashed?: boolean;
  /** Stroke width in pixels (default 2). */
  readonly width?: number;
  /** Stroke opacity in [0, 1] (default 1). */
  readonly opacity?: number;
}

export interface PlotOptions {
  readonly title?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly width?: number;
  readonly height?: number;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** `niceTicks(lo, hi, n)`: about n round tick values covering [lo, hi] with step 1, 2 or 5 × 10ᵏ. */
export const niceTicks = (lo: number, hi: number, n = 5): number[] => {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
};

const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** `lineChartSvg(series, options)`: an SVG document with axes, ticks, a legend and one polyline per series. */
export const lineChartSvg = (series: readonly Series[], options: PlotOptions = {}): string => {
  if (!Array.isArray(series as unknown)) throw new ArgumentError("lineChartSvg", "series", `must be an array of { name, points }, got ${describe(series)}`);
  const { title = "", xLabel = "", yLabel = "", width = 720, height = 420 } = options;
  const m = { left: 64, right: 16 + (series.length ? 150 : 0), top: title ? 40 : 16, bottom: 48 };
  const pw = width - m.left - m.right, ph = height - m.top - m.bottom;
  const pts = series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  let [x0, x1] = pts.length ? [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))] : [0, 1];
  let [y0, y1] = pts.length ? [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))] : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const X = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.top + (1 - (y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (title) out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  for (const v of niceTicks(y0, y1, 6)) {
    const y = Y(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  for (const v of niceTicks(x0, x1, 8)) {
    const x = X(v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  if (xLabel) out.push(`<text x="${m.left + pw / 2}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  if (yLabel) out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
    const style = `fill="none" stroke="${esc(color)}" stroke-width="${s.width ?? 2}" stroke-opacity="${s.opacity ?? 1}"${s.dashed ? ' stroke-dasharray="6 4"' : ""}`;
    if (p.length === 1) out.push(`<circle cx="${p[0]!.split(",")[0]}" cy="${p[0]!.split(",")[1]}" r="3" fill="${esc(color)}"/>`);
    else if (p.length > 1) out.push(`<polyline ${style} points="${p.join(" ")}"/>`);
    const ly = m.top + 10 + i * 20, lx = m.left + pw + 12;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" ${style}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
};

/** The history a loss curve needs: per-epoch train/valid losses and the per-step training losses. */
export interface CurveData {
  readonly epochs: readonly { readonly epoch: number; readonly trainLoss: number; readonly validLoss?: number }[];
  /** Training loss of every step, in order; drawn at x = fractional epoch. */
  readonly stepLosses?: readonly number[];
  readonly stepsPerEpoch?: readonly number[];
}

/** `lossCurveSvg(history)`: per-step training loss (faint), per-epoch train loss and validation loss against epochs. */
export const lossCurveSvg = (data: CurveData, options: PlotOptions = {}): string => {
  const series: Series[] = [];
  const steps = data.stepLosses ?? [];
  const per = data.stepsPerEpoch ?? [];
  if (steps.length > 0 && per.length > 0) {
    const pts: [number, number][] = [];
    let i = 0;
    per.forEach((n, e) => {
      for (let j = 0; j < n && i < steps.length; j++, i++) pts.push([e + (j + 1) / n, steps[i]!]);
    });
    series.push({ name: "train (step)", points: pts, color: "#9ecae1", width: 1, opacity: 0.8 });
  }
  series.push({ name: "train (epoch)", points: data.epochs.map((e) => [e.epoch, e.trainLoss] as const), color: "#1f77b4" });
  if (data.epochs.some((e) => e.validLoss !== undefined))
    series.push({ name: "validation", points: data.epochs.filter((e) => e.validLoss !== undefined).map((e) => [e.epoch, e.validLoss!] as const), color: "#d62728", dashed: true });
  return lineChartSvg(series, { xLabel: "epoch", yLabel: "loss", ...options });
};
