/** Plane geometry for text boxes: convex hull, minimum-area rectangle, corner order. */

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** A rotated rectangle: centre, side lengths (width along `angleRad`), rotation. */
export interface RotatedRect {
  readonly cx: number;
  readonly cy: number;
  readonly width: number;
  readonly height: number;
  readonly angleRad: number;
}

function cross(o: Point, a: Point, b: Point): number {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

/** Convex hull (Andrew's monotone chain), counter-clockwise, no repeated first point. */
export function convexHull(points: readonly Point[]): Point[] {
  if (points.length < 3) return [...points];
  const p = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  const lower: Point[] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: Point[] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/**
 * The smallest-area rectangle around the points: one side lies on a hull edge (rotating calipers,
 * here by trying each edge). Width is the side closer to horizontal.
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) return { cx: 0, cy: 0, width: 0, height: 0, angleRad: 0 };
  if (hull.length < 3) {
    const a = hull[0]!;
    const b = hull[hull.length - 1]!;
    return { cx: (a.x + b.x) / 2, cy: (a.y + b.y) / 2, width: Math.hypot(b.x - a.x, b.y - a.y), height: 0, angleRad: Math.atan2(b.y - a.y, b.x - a.x) };
  }
  let best: RotatedRect | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    if (len === 0) continue;
    const ux = (b.x - a.x) / len;
    const uy = (b.y - a.y) / len;
    let minU = Infinity, maxU = -Infinity, minV = Infinity, maxV = -Infinity;
    for (const q of hull) {
      const u = q.x * ux + q.y * uy;
      const v = -q.x * uy + q.y * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, width: maxU - minU, height: maxV - minV, angleRad: Math.atan2(uy, ux) };
    }
  }
  return normaliseRect(best!);
}

/** Same rectangle with its angle in (−45°, 45°]: width is then the near-horizontal side. */
export function normaliseRect(r: RotatedRect): RotatedRect {
  let { width, height, angleRad } = r;
  const quarter = Math.PI / 2;
  while (angleRad > Math.PI / 4) {
    angleRad -= quarter;
    [width, height] = [height, width];
  }
  while (angleRad <= -Math.PI / 4) {
    angleRad += quarter;
    [width, height] = [height, width];
  }
  return { cx: r.cx, cy: r.cy, width, height, angleRad };
}

/** Corners of a rotated rectangle: top-left, top-right, bottom-right, bottom-left (for angle in (−45°, 45°]). */
export function rectCorners(r: RotatedRect): [Point, Point, Point, Point] {
  const c = Math.cos(r.angleRad);
  const s = Math.sin(r.angleRad);
  const hw = r.width / 2;
  const hh = r.height / 2;
  const at = (u: number, v: number): Point => ({ x: r.cx + u * c - v * s, y: r.cy + u * s + v * c });
  return [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)];
}
