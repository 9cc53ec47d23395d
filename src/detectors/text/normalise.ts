/**
 * Text normalisation for rule matching on OCR output: NFKC (full-width letters, digits and
 * punctuation become their ASCII forms, the ideographic space a space), lower case, runs of
 * whitespace collapsed. `compact` also drops whitespace and punctuation, so "好 评 返 现" and
 * "好评-返现" both read "好评返现".
 */

export function normaliseText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

export function compactText(text: string): string {
  return normaliseText(text).replace(/[\s\p{P}\p{S}]/gu, '');
}
