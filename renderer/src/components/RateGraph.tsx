/**
 * The live transfer-rate graph: two areas (download, upload) over the last RATE_WINDOW
 * samples. Hand-drawn SVG on purpose: a charting library would add 40–100 KB gzip to the
 * initial bundle for one sparkline, and the drawing here is two polylines and a scale.
 */
import { useTranslation } from 'react-i18next';
import { formatRate } from '../format';
import { RATE_WINDOW, type RatePoint } from '../store';

const W = 600;
const H = 160;

/** 1, 2 or 5 × 10^n KB/s (or MB/s) at or above `v`, so the scale reads in round figures. */
function niceMax(v: number): number {
  if (v <= 1024) return 1024;
  const unit = v >= 1024 * 1024 ? 1024 * 1024 : 1024;
  const x = v / unit;
  const exp = 10 ** Math.floor(Math.log10(x));
  const step = [1, 2, 5, 10].find((s) => s * exp >= x) ?? 10;
  return step * exp * unit;
}

function path(points: RatePoint[], pick: (p: RatePoint) => number, max: number): { line: string; area: string } {
  if (points.length === 0) return { line: '', area: '' };
  const offset = RATE_WINDOW - points.length;
  const xy = points.map((p, i) => [((offset + i) / (RATE_WINDOW - 1)) * W, H - (pick(p) / max) * (H - 6)] as const);
  if (xy.length === 1) xy.unshift([Math.max(0, xy[0]![0] - W / (RATE_WINDOW - 1)), xy[0]![1]]);
  const line = xy.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
  return { line, area: `${line}L${xy[xy.length - 1]![0].toFixed(1)},${H}L${xy[0]![0].toFixed(1)},${H}Z` };
}

/** `empty`: what to say while there is nothing to draw. */
export function RateGraph({ points, empty }: { points: RatePoint[]; empty?: string | undefined }) {
  const { t } = useTranslation();
  const peak = points.reduce((m, p) => Math.max(m, p.rateIn, p.rateOut), 0);
  const max = niceMax(peak);
  const inPath = path(points, (p) => p.rateIn, max);
  const outPath = path(points, (p) => p.rateOut, max);
  const last = points[points.length - 1];
  const label = t('status.graphLabel', { seconds: RATE_WINDOW, rateIn: formatRate(last?.rateIn ?? 0), rateOut: formatRate(last?.rateOut ?? 0) });
  return (
    <div className="graph" data-testid="rate-graph" data-points={points.length}>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label}>
        {[0.25, 0.5, 0.75].map((f) => (
          <line key={f} x1="0" x2={W} y1={H * f} y2={H * f} className="graph-grid" vectorEffect="non-scaling-stroke" />
        ))}
        <path d={outPath.area} className="graph-area graph-out" />
        <path d={inPath.area} className="graph-area graph-in" />
        <path d={outPath.line} className="graph-line graph-out" vectorEffect="non-scaling-stroke" />
        <path d={inPath.line} className="graph-line graph-in" vectorEffect="non-scaling-stroke" />
      </svg>
      {points.length > 0 ? (
        <>
          <span className="graph-scale graph-scale-top" aria-hidden="true">
            {formatRate(max)}
          </span>
          <span className="graph-scale graph-scale-mid" aria-hidden="true">
            {formatRate(max / 2)}
          </span>
        </>
      ) : empty ? (
        <p className="graph-empty muted">{empty}</p>
      ) : null}
    </div>
  );
}
