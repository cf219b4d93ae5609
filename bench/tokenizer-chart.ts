// A minimal horizontal bar chart as SVG text, for bench/results/tokenizer.svg.

export function barChart(title: string, bars: Array<[string, number]>): string {
  const W = 640;
  const rowH = 28;
  const left = 170;
  const top = 40;
  const max = Math.max(...bars.map(([, v]) => v), 1e-9);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const rows = bars.map(([label, v], i) => {
    const y = top + i * rowH;
    const w = ((W - left - 70) * v) / max;
    return `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(label)}</text>` +
      `<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${i === 0 ? '#2b6cb0' : '#a0aec0'}"/>` +
      `<text x="${(left + w + 6).toFixed(1)}" y="${y + 17}">${v.toFixed(2)}</text>`;
  });
  const H = top + bars.length * rowH + 12;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="13">` +
    `<text x="10" y="22" font-weight="bold">${esc(title)}</text>${rows.join('')}</svg>\n`;
}
