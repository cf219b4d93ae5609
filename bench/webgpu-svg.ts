// A small SVG bar chart for the WebGPU benchmark (no dependencies): one block per measured kernel
// or model shape, one bar per implementation, bar length on a log scale shared by the block, each
// bar labelled with its throughput and its ratio to the block's baseline (the CPU row). Colours:
// grey baseline, blue gpt2ts WebGPU, orange gpu.js, green PyTorch.

export interface ChartBar {
  label: string;
  value: number; // throughput (higher is better)
}

export interface ChartGroup {
  title: string; // e.g. "matmul qkv 64×768×2304 — GFLOP/s"
  bars: ChartBar[]; // bars[0] is the baseline the ratios are taken against
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function fmt(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 0.1) return v.toFixed(2);
  return v.toPrecision(2);
}

/** The chart as an SVG document. */
export function barChartSvg(title: string, subtitle: string, groups: readonly ChartGroup[]): string {
  const W = 900, labelW = 190, barMax = 520, rowH = 18, gap = 26, top = 58;
  let y = top;
  const parts: string[] = [];
  for (const g of groups) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${esc(g.title)}</text>`);
    y += 8;
    const vals = g.bars.map((b) => b.value).filter((v) => v > 0);
    const lo = Math.log10(Math.min(...vals)) - 0.3, hi = Math.log10(Math.max(...vals));
    const base = g.bars[0]?.value ?? 0;
    for (const b of g.bars) {
      const frac = b.value > 0 ? (Math.log10(b.value) - lo) / Math.max(hi - lo, 1e-9) : 0;
      const w = Math.max(2, frac * barMax);
      const ratio = base > 0 && b !== g.bars[0] ? ` (×${fmt(b.value / base)})` : '';
      const color = b === g.bars[0] ? '#999' : b.label.startsWith('gpu.js') ? '#d98c2b' : b.label.startsWith('pytorch') ? '#2f855a' : '#2b6cb0';
      parts.push(
        `<text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(b.label)}</text>`,
        `<rect x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${color}"/>`,
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 13}">${esc(fmt(b.value))}${esc(ratio)}</text>`,
      );
      y += rowH;
    }
    y += gap;
  }
  const H = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="40" fill="#555">${esc(subtitle)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
