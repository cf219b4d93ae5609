// A tiny SVG writer for bench/cpu.ts: panels of grouped horizontal bars (one group per row, one
// bar per series), linear or log10 x axis, stacked vertically in one file. No dependencies.

export interface Series {
  name: string;
  color: string;
}

export interface Panel {
  title: string;
  unit: string;
  log: boolean;
  series: Series[];
  /** one group per row: a label and one value per series (null: not measured) */
  rows: { label: string; values: (number | null)[] }[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

const W = 900, LABEL = 190, RIGHT = 70, BAR = 9, GAP = 8, TITLE = 44;

/** legend entries laid out left to right, wrapping at the right edge: [x, row] per series */
function legend(p: Panel): [number, number][] {
  const out: [number, number][] = [];
  let x = LABEL, row = 0;
  for (const s of p.series) {
    const w = 24 + s.name.length * 6.2;
    if (x > LABEL && x + w > W - 10) {
      x = LABEL;
      row++;
    }
    out.push([x, row]);
    x += w;
  }
  return out;
}

/** title + legend rows */
function headHeight(p: Panel): number {
  const rows = Math.max(1, ...legend(p).map(([, r]) => r + 1));
  return TITLE + 14 * (rows - 1);
}

function panelHeight(p: Panel): number {
  return headHeight(p) + p.rows.length * (p.series.length * BAR + GAP) + 30;
}

function panel(p: Panel, y0: number): string[] {
  const out: string[] = [];
  const vals = p.rows.flatMap((r) => r.values.filter((v): v is number => v !== null && v > 0));
  const max = Math.max(1e-9, ...vals);
  const min = p.log ? Math.max(1e-3, Math.min(...vals)) : 0;
  const lo = p.log ? Math.floor(Math.log10(min)) : 0;
  const hi = p.log ? Math.ceil(Math.log10(max)) : max * 1.05;
  const plotW = W - LABEL - RIGHT;
  const x = (v: number): number => LABEL + (p.log ? ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * plotW : (v / hi) * plotW);
  out.push(`<text x="${LABEL}" y="${y0 + 18}" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
  legend(p).forEach(([lx, row], i) => {
    const ly = y0 + 26 + 14 * row;
    out.push(`<rect x="${lx.toFixed(1)}" y="${ly}" width="10" height="10" fill="${p.series[i].color}"/>`);
    out.push(`<text x="${(lx + 14).toFixed(1)}" y="${ly + 9}" font-size="11">${esc(p.series[i].name)}</text>`);
  });
  const top = y0 + headHeight(p);
  const bottom = y0 + panelHeight(p) - 30;
  // grid
  const ticks: number[] = [];
  if (p.log) for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  else for (let i = 0; i <= 5; i++) ticks.push((hi * i) / 5);
  for (const t of ticks) {
    const tx = x(t).toFixed(1);
    out.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${tx}" y="${bottom + 14}" font-size="10" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<text x="${LABEL + plotW / 2}" y="${bottom + 27}" font-size="11" text-anchor="middle">${esc(p.unit)}${p.log ? ' (log scale)' : ''}</text>`);
  let y = top;
  for (const r of p.rows) {
    const gh = p.series.length * BAR;
    out.push(`<text x="${LABEL - 6}" y="${(y + gh / 2 + 4).toFixed(1)}" font-size="11" text-anchor="end">${esc(r.label)}</text>`);
    r.values.forEach((v, i) => {
      if (v === null || !(v > 0)) return;
      const by = y + i * BAR;
      out.push(`<rect x="${LABEL}" y="${by}" width="${Math.max(1, x(v) - LABEL).toFixed(1)}" height="${BAR - 1}" fill="${p.series[i].color}"/>`);
      out.push(`<text x="${(x(v) + 3).toFixed(1)}" y="${by + BAR - 1.5}" font-size="8">${fmt(v)}</text>`);
    });
    y += gh + GAP;
  }
  return out;
}

/** The panels stacked, with a footer line (date, machine). */
export function svgChart(panels: Panel[], footer: string): string {
  let y = 10;
  const body: string[] = [];
  for (const p of panels) {
    body.push(...panel(p, y));
    y += panelHeight(p) + 16;
  }
  body.push(`<text x="10" y="${y + 4}" font-size="10" fill="#555">${esc(footer)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 14}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n${body.join('\n')}\n</svg>\n`;
}
