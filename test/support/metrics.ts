/** Value of one sample in Prometheus text, e.g. sample(text, 'x_total{outcome="ok"}'); 0 when absent. */
export function sample(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}
