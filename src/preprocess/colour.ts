/**
 * PIL's CMYK → RGB conversion (Convert.c cmyk2rgb, no colour management), which is what the training
 * data saw: R = (255 − K) − round((255 − K) · C / 255), likewise G from M and B from Y. libvips would
 * convert through an ICC transform instead, several levels away.
 * `channels` ≥ 4 (a fifth, alpha, band is dropped).
 */
export function pilCmykToRgb(cmyk: Uint8Array, pixels: number, channels: number): Buffer {
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0, s = 0, d = 0; i < pixels; i++, s += channels, d += 3) {
    const nk = 255 - cmyk[s + 3]!;
    let tmp = cmyk[s]! * nk + 128;
    rgb[d] = nk - (((tmp >> 8) + tmp) >> 8);
    tmp = cmyk[s + 1]! * nk + 128;
    rgb[d + 1] = nk - (((tmp >> 8) + tmp) >> 8);
    tmp = cmyk[s + 2]! * nk + 128;
    rgb[d + 2] = nk - (((tmp >> 8) + tmp) >> 8);
  }
  return rgb;
}
