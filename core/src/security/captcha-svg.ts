import { randomInt } from 'node:crypto';

/**
 * The no-JavaScript fallback's picture: a sum such as "27 + 4 = ?" drawn as SVG paths (no <text>,
 * so the answer is not in the markup as characters), each glyph turned, scaled and shaken at
 * random, with noise strokes across. Each drawing of the same question differs. It keeps simple
 * scripts out, not a determined OCR: the proof of work is the defence, this is the way in for
 * browsers without scripts.
 */

/** Strokes on a 10 × 16 grid; `M` starts a stroke, `Z` closes it. */
const GLYPHS: Record<string, string> = {
  '0': 'M2 1 L8 1 L9 3 L9 13 L8 15 L2 15 L1 13 L1 3 Z',
  '1': 'M3 3 L5 1 L5 15 M3 15 L7 15',
  '2': 'M1 3 L3 1 L7 1 L9 3 L9 6 L1 15 L9 15',
  '3': 'M1 1 L9 1 L5 7 L8 8 L9 11 L8 14 L5 15 L2 15 L1 14',
  '4': 'M7 15 L7 1 L1 11 L9 11',
  '5': 'M9 1 L2 1 L1 7 L6 6 L9 9 L9 12 L7 15 L2 15 L1 13',
  '6': 'M8 1 L4 1 L1 6 L1 13 L3 15 L7 15 L9 13 L9 10 L7 8 L3 8 L1 10',
  '7': 'M1 1 L9 1 L4 15',
  '8': 'M5 8 L2 6 L2 3 L4 1 L6 1 L8 3 L8 6 L5 8 L1 11 L1 13 L3 15 L7 15 L9 13 L9 11 Z',
  '9': 'M9 6 L7 8 L3 8 L1 6 L1 3 L3 1 L7 1 L9 3 L9 10 L6 15 L2 15',
  '+': 'M1 8 L9 8 M5 4 L5 12',
  '-': 'M1 8 L9 8',
  '=': 'M1 6 L9 6 M1 10 L9 10',
  '?': 'M2 3 L4 1 L7 1 L9 3 L9 5 L5 9 L5 11 M5 14 L5 15',
};

const rand = (min: number, max: number) => min + (randomInt(0, 10_001) / 10_000) * (max - min);
const f = (n: number) => n.toFixed(1);

function glyphPath(glyph: string, x0: number, y0: number): string {
  const angle = (rand(-18, 18) * Math.PI) / 180;
  const scale = rand(1.6, 2.1);
  const [cx, cy] = [5, 8];
  return GLYPHS[glyph]!.replace(/(-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?)/g, (_, gx: string, gy: string) => {
    const dx = (Number(gx) - cx) * scale + rand(-0.5, 0.5);
    const dy = (Number(gy) - cy) * scale + rand(-0.5, 0.5);
    return `${f(x0 + dx * Math.cos(angle) - dy * Math.sin(angle))} ${f(y0 + dx * Math.sin(angle) + dy * Math.cos(angle))}`;
  });
}

/** The question drawn as an SVG document. */
export function captchaSvg(question: string): string {
  const chars = [...question.replace(/\s+/g, '')];
  const width = 28 + chars.length * 26;
  const height = 56;
  const strokes = chars.map((c, i) => `<path d="${glyphPath(c, 22 + i * 26 + rand(-3, 3), height / 2 + rand(-4, 4))}"/>`);
  const noise = Array.from({ length: 5 }, () => `<path d="M${f(rand(0, width / 3))} ${f(rand(0, height))} Q${f(rand(0, width))} ${f(rand(0, height))} ${f(rand((2 * width) / 3, width))} ${f(rand(0, height))}" stroke-width="${f(rand(0.8, 1.6))}"/>`);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="100%" height="100%" fill="#f4f1ea"/>` +
    `<g fill="none" stroke="#3b3f46" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round">${strokes.join('')}</g>` +
    `<g fill="none" stroke="#7d8590">${noise.join('')}</g></svg>`
  );
}

/** As a `data:` URL for an <img>. */
export const captchaImage = (question: string) => `data:image/svg+xml;base64,${Buffer.from(captchaSvg(question)).toString('base64')}`;
